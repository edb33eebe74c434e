package points

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/partition"
)

// TestPrepareVaults: on moto, prepare makes the vault in both regions (the
// DR one with dr_kms_key), locks the DR vault, and makes AWS Backup's role
// under the stack's boundary with the managed policies; a second prepare
// changes nothing, and a dry run changes nothing in AWS.
func TestPrepareVaults(t *testing.T) {
	forPairs(t, func(t *testing.T, P, D string) {
		w := newWorld(t, P, D)
		key := w.createKey("alias/wp-dr")
		cfg := w.config(`protect:
  databases:
    - id: wp-db
      every: 2h
      keep: { primary: 1, dr: 3, max_age: 30d }
      engine: auto
      dr_kms_key: alias/wp-dr
      vault_lock: { min_retention: 7d, max_retention: 90d }
`)
		im := &managedPolicies{iamClient: iam.NewFromConfig(w.env.For(P))}
		dry, err := prepareVaults(w.ctx, w.env, cfg, true, im)
		if err != nil {
			t.Fatal(err)
		}
		if len(dry) != 4 { // two vaults, the lock, the role
			t.Errorf("dry run says %q, want two vaults, a lock and a role", dry)
		}
		if n := len(w.mutations()); n != 0 {
			t.Fatalf("dry run mutated AWS: %v", w.mutations())
		}
		changes, err := prepareVaults(w.ctx, w.env, cfg, false, im)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("changes: %q", changes)
		for _, r := range []string{P, D} {
			out, err := awsbackup.NewFromConfig(w.direct.For(r)).DescribeBackupVault(w.ctx, &awsbackup.DescribeBackupVaultInput{BackupVaultName: aws.String("pilotlight-wp")})
			if err != nil {
				t.Fatalf("vault in %s: %v", r, err)
			}
			if r == D {
				if got := aws.ToString(out.EncryptionKeyArn); got != key {
					t.Errorf("DR vault key = %q, want %q", got, key)
				}
				if !aws.ToBool(out.Locked) || aws.ToInt64(out.MinRetentionDays) != 7 || aws.ToInt64(out.MaxRetentionDays) != 90 {
					t.Errorf("DR vault lock = locked %v min %d max %d, want locked 7..90", aws.ToBool(out.Locked), aws.ToInt64(out.MinRetentionDays), aws.ToInt64(out.MaxRetentionDays))
				}
			} else if aws.ToBool(out.Locked) {
				t.Errorf("primary vault locked: its points are pruned once copied")
			}
		}
		role, err := im.GetRole(w.ctx, &iam.GetRoleInput{RoleName: aws.String(DefaultBackupRole)})
		if err != nil {
			t.Fatal(err)
		}
		if b := role.Role.PermissionsBoundary; b == nil || !strings.HasSuffix(aws.ToString(b.PermissionsBoundaryArn), ":policy/wp-pilotlight-boundary") {
			t.Errorf("role boundary = %+v, want the stack's", b)
		}
		if !strings.Contains(aws.ToString(role.Role.Arn), ":role/service-role/"+DefaultBackupRole) {
			t.Errorf("role ARN %s: the engine passes role/service-role/%s", aws.ToString(role.Role.Arn), DefaultBackupRole)
		}
		slices.Sort(im.attached)
		p := "arn:aws-cn:iam::aws:policy/service-role/"
		if !strings.HasPrefix(P, "cn-") {
			p = "arn:aws:iam::aws:policy/service-role/"
		}
		if !slices.Equal(im.attached, []string{p + "AWSBackupServiceRolePolicyForBackup", p + "AWSBackupServiceRolePolicyForRestores"}) {
			t.Errorf("role policies = %v", im.attached)
		}
		again, err := prepareVaults(w.ctx, w.env, cfg, false, im)
		if err != nil || len(again) != 0 {
			t.Fatalf("second prepare: changes %q, err %v; want none", again, err)
		}
	})
}

// TestPrepareVaultsOnlyForBackupEngines: a stack on snapshot-copy gets no
// vault and no role.
func TestPrepareVaultsOnlyForBackupEngines(t *testing.T) {
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	cfg := w.config("protect:\n  databases:\n    - id: wp-db\n      every: 2h\n      keep: { primary: 1, dr: 3 }\n")
	changes, err := PrepareVaults(w.ctx, w.env, cfg, false)
	if err != nil || len(changes) != 0 || len(w.mutations()) != 0 {
		t.Fatalf("changes %q err %v mutations %v; want nothing", changes, err, w.mutations())
	}
}

// managedPolicies is moto's IAM with AWS's managed policies attachable:
// the emulator starts moto without them (MOTO_IAM_LOAD_MANAGED_POLICIES
// =false, loading them per account is slow), so attaching one answers
// NoSuchEntity there but not on AWS. The roles themselves are moto's.
type managedPolicies struct {
	*iamClient
	attached []string
}

type iamClient = iam.Client

func (m *managedPolicies) AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, _ ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	if _, err := m.GetRole(ctx, &iam.GetRoleInput{RoleName: in.RoleName}); err != nil {
		return nil, err
	}
	m.attached = append(m.attached, aws.ToString(in.PolicyArn))
	return &iam.AttachRolePolicyOutput{}, nil
}

func (m *managedPolicies) ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	out := &iam.ListAttachedRolePoliciesOutput{}
	for _, a := range m.attached {
		out.AttachedPolicies = append(out.AttachedPolicies, iamtypes.AttachedPolicy{PolicyArn: aws.String(a)})
	}
	return out, nil
}

func TestBoundaryARNIsIAMPolicys(t *testing.T) {
	for _, region := range []string{"cn-north-1", "us-west-2"} {
		p, _ := partition.Of(region)
		want, err := iampolicy.BoundaryARN(region, "123456789012", "wp")
		if got := boundaryARN(p, "123456789012", "wp"); err != nil || got != want {
			t.Errorf("%s: boundaryARN %q, iampolicy.BoundaryARN %q (%v)", region, got, want, err)
		}
	}
}

// TestLockedDRVaultKeepsYoungPoints: with vault_lock, AWS Backup refuses to
// delete a DR recovery point younger than the lock's minimum retention
// (the emulator's AWS Backup simulation does too; moto has no jobs). spec
// requires keep.max_age >= min_retention with a lock, and retention keeps
// every point younger than max_age whatever keep.dr says: so cycles with
// keep.dr 1 succeed and both young DR points stay.
func TestLockedDRVaultKeepsYoungPoints(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.proxy.SimulateBackupJobs()
	w.createDB("db1", false)
	cfg := w.config(`protect:
  databases:
    - id: db1
      engine: aws-backup
      backup_role: arn:aws-cn:iam::123456789012:role/backup
      every: 2h
      keep: { primary: 1, dr: 1, max_age: 30d }
      vault_lock: { min_retention: 7d }
`)
	if _, err := PrepareVaults(w.ctx, w.env, cfg, false); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, t.TempDir())
	c := newClients(w.env)
	c.waits = waits{MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
	for i, tick := range []string{"t0", "t1"} {
		now := t0.Add(time.Duration(i) * 2 * time.Hour)
		rep, err := stepUntilDone(w.ctx, c, cfg, BackupOptions{Now: func() time.Time { return now }, Store: store, Tick: tick}, nil)
		if err != nil {
			t.Fatalf("cycle %s: %v", tick, err)
		}
		if r := rep.Results[0]; r.Copied == "" {
			t.Fatalf("cycle %s made no DR copy: %+v", tick, r)
		}
	}
	out, err := awsbackup.NewFromConfig(w.env.For("cn-north-1")).ListRecoveryPointsByBackupVault(w.ctx,
		&awsbackup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(VaultName("wp"))})
	if err != nil || len(out.RecoveryPoints) != 2 {
		t.Fatalf("DR vault lists %v (%v), want both points: the lock keeps them for 7 days", out, err)
	}
}
