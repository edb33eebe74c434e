package points

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// What the aws-backup engine needs before its first cycle: StartBackupJob
// and StartCopyJob fail without a vault of the stack's name in each region
// and a role AWS Backup can assume. prepare makes them, once.

// vaultAPI is the part of AWS Backup prepare uses.
type vaultAPI interface {
	DescribeBackupVault(context.Context, *awsbackup.DescribeBackupVaultInput, ...func(*awsbackup.Options)) (*awsbackup.DescribeBackupVaultOutput, error)
	CreateBackupVault(context.Context, *awsbackup.CreateBackupVaultInput, ...func(*awsbackup.Options)) (*awsbackup.CreateBackupVaultOutput, error)
	PutBackupVaultLockConfiguration(context.Context, *awsbackup.PutBackupVaultLockConfigurationInput, ...func(*awsbackup.Options)) (*awsbackup.PutBackupVaultLockConfigurationOutput, error)
}

// backupRoleAPI is the part of IAM prepare uses for the service role.
type backupRoleAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
}

// DefaultBackupRole is the role the aws-backup engine passes to AWS Backup
// when a database names no backup_role (the name the AWS console gives
// it), at path /service-role/.
const DefaultBackupRole = "AWSBackupDefaultServiceRole"

// backupRolePolicies are the AWS managed policies of AWS Backup's service
// role: taking the snapshots and copying them, and restoring (failover
// restores from the DR recovery point's snapshot with RDS itself, but a
// restore job would need them).
var backupRolePolicies = []string{
	"service-role/AWSBackupServiceRolePolicyForBackup",
	"service-role/AWSBackupServiceRolePolicyForRestores",
}

// vaultPlan is what the stack's databases on AWS Backup ask of prepare.
type vaultPlan struct {
	drKey    string // as configured (alias, id or ARN); "" for AWS's key
	lock     *spec.VaultLock
	needRole bool
}

// planVaults reads the databases whose engine may be aws-backup. ok is
// false when none is.
func planVaults(cfg *spec.Config) (vaultPlan, bool, error) {
	var p vaultPlan
	some := false
	for _, d := range cfg.Protect.Databases {
		if d.Engine != EngineAWSBackup && d.Engine != EngineAuto {
			continue
		}
		some = true
		// One DR vault serves the stack and a vault's key is fixed when it
		// is made, so two keys cannot both hold.
		if d.DRKMSKey != "" {
			if p.drKey != "" && p.drKey != d.DRKMSKey {
				return p, true, fmt.Errorf("%s: dr_kms_key %q differs from another database's %q: the stack's one DR vault %s has one key", d.ID, d.DRKMSKey, p.drKey, VaultName(cfg.Stack))
			}
			p.drKey = d.DRKMSKey
		}
		if d.VaultLock != nil && p.lock == nil {
			p.lock = d.VaultLock
		}
		if d.BackupRole == "" {
			p.needRole = true
		}
	}
	return p, some, nil
}

// PrepareVaults makes, when missing, what the aws-backup engine needs for
// the databases whose engine is aws-backup or auto (auto may turn to AWS
// Backup at any cycle, so it is ready beforehand): the vault
// pilotlight-<stack> in the primary and the DR region, the DR one
// encrypted with dr_kms_key when set; the Vault Lock of the DR vault when
// vault_lock is set; and AWSBackupDefaultServiceRole when some database
// names no backup_role, made under the stack's permissions boundary with
// AWS's managed backup and restore policies. The lock is on the DR vault
// only: the primary's points are pruned once copied, and the DR copy is
// what must outlive an attacker holding the primary's keys. It returns
// what it changed (with dryRun, what it would change).
func PrepareVaults(ctx context.Context, env *awsenv.Env, cfg *spec.Config, dryRun bool) ([]string, error) {
	return prepareVaults(ctx, env, cfg, dryRun, iam.NewFromConfig(env.For(cfg.Primary.Region)))
}

func prepareVaults(ctx context.Context, env *awsenv.Env, cfg *spec.Config, dryRun bool, im backupRoleAPI) ([]string, error) {
	plan, some, err := planVaults(cfg)
	if err != nil || !some {
		return nil, err
	}
	P, D := cfg.Primary.Region, cfg.DR.Region
	pv := vaultPrep{cfg: cfg, dryRun: dryRun}
	keyARN := ""
	if plan.drKey != "" {
		if keyARN, err = ResolveDRKey(ctx, kms.NewFromConfig(env.For(D)), plan.drKey, D); err != nil {
			return nil, fmt.Errorf("backup vault %s: %w", VaultName(cfg.Stack), err)
		}
	}
	if err := pv.vault(ctx, awsbackup.NewFromConfig(env.For(P)), P, "", nil); err != nil {
		return pv.changes, err
	}
	if err := pv.vault(ctx, awsbackup.NewFromConfig(env.For(D)), D, keyARN, plan.lock); err != nil {
		return pv.changes, err
	}
	if plan.needRole {
		account, err := env.Account(ctx, P)
		if err != nil {
			return pv.changes, err
		}
		if err := pv.role(ctx, im, P, account); err != nil {
			return pv.changes, err
		}
	}
	return pv.changes, nil
}

type vaultPrep struct {
	cfg     *spec.Config
	dryRun  bool
	changes []string
}

func (pv *vaultPrep) change(format string, args ...any) {
	pv.changes = append(pv.changes, fmt.Sprintf(format, args...))
}

// vault makes the stack's vault in region with keyARN (AWS Backup's own
// key when ""), and sets lock when it is not nil and not already in force.
func (pv *vaultPrep) vault(ctx context.Context, bk vaultAPI, region, keyARN string, lock *spec.VaultLock) error {
	name := VaultName(pv.cfg.Stack)
	out, err := bk.DescribeBackupVault(ctx, &awsbackup.DescribeBackupVaultInput{BackupVaultName: aws.String(name)})
	exists := true
	switch {
	case apiCode(err) == "ResourceNotFoundException":
		exists = false
	case err != nil:
		return fmt.Errorf("describe backup vault %s: %s: %w", name, region, err)
	}
	if !exists {
		how := "AWS Backup's key"
		if keyARN != "" {
			how = keyARN
		}
		pv.change("create backup vault %s in %s (encrypted with %s)", name, region, how)
		if !pv.dryRun {
			in := &awsbackup.CreateBackupVaultInput{BackupVaultName: aws.String(name),
				BackupVaultTags:  tags.Base(pv.cfg.Stack),
				CreatorRequestId: aws.String(clientToken(pv.cfg.Stack, name, region))}
			if keyARN != "" {
				in.EncryptionKeyArn = aws.String(keyARN)
			}
			if _, err := bk.CreateBackupVault(ctx, in); err != nil && apiCode(err) != "AlreadyExistsException" {
				return fmt.Errorf("create backup vault %s: %s: %w", name, region, err)
			}
		}
	} else if keyARN != "" && aws.ToString(out.EncryptionKeyArn) != keyARN {
		// A vault's key is fixed at creation: a copy job would encrypt the
		// DR copies with a key other than the one configured.
		return fmt.Errorf("backup vault %s in %s is encrypted with %s, not dr_kms_key %s: a vault's key cannot change; delete the (empty) vault or set dr_kms_key to its key",
			name, region, aws.ToString(out.EncryptionKeyArn), keyARN)
	}
	if lock == nil {
		return nil
	}
	in := &awsbackup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String(name)}
	if lock.MinRetention.D > 0 {
		in.MinRetentionDays = aws.Int64(days(lock.MinRetention.D))
	}
	if lock.MaxRetention.D > 0 {
		in.MaxRetentionDays = aws.Int64(days(lock.MaxRetention.D))
	}
	if lock.ComplianceAfter.D > 0 {
		in.ChangeableForDays = aws.Int64(days(lock.ComplianceAfter.D))
	}
	if exists && aws.ToBool(out.Locked) &&
		aws.ToInt64(out.MinRetentionDays) == aws.ToInt64(in.MinRetentionDays) &&
		aws.ToInt64(out.MaxRetentionDays) == aws.ToInt64(in.MaxRetentionDays) {
		return nil
	}
	pv.change("lock backup vault %s in %s (min %d days, max %d days%s)", name, region,
		aws.ToInt64(in.MinRetentionDays), aws.ToInt64(in.MaxRetentionDays), complianceNote(in.ChangeableForDays))
	if pv.dryRun {
		return nil
	}
	if _, err := bk.PutBackupVaultLockConfiguration(ctx, in); err != nil {
		return fmt.Errorf("lock backup vault %s: %s: %w", name, region, err)
	}
	return nil
}

func complianceNote(changeable *int64) string {
	if changeable == nil {
		return ", governance mode"
	}
	return fmt.Sprintf(", immutable after %d days", *changeable)
}

func days(d time.Duration) int64 { return int64(math.Ceil(d.Hours() / 24)) }

// role makes AWSBackupDefaultServiceRole when the account has none. An
// existing one is the account's (the console makes it too) and is left
// as it is, unless pilotlight made it for this stack and a managed policy
// is missing (a prepare stopped between CreateRole and AttachRolePolicy).
func (pv *vaultPrep) role(ctx context.Context, im backupRoleAPI, region, account string) error {
	p, err := partition.Of(region)
	if err != nil {
		return err
	}
	out, err := im.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(DefaultBackupRole)})
	switch {
	case apiCode(err) == "NoSuchEntity":
		boundary := boundaryARN(p, account, pv.cfg.Stack)
		pv.change("create role %s for AWS Backup (boundary %s)", DefaultBackupRole, boundary)
		if pv.dryRun {
			return nil
		}
		// backup.amazonaws.com in China too: AWS Backup's service principal
		// has no .com.cn form (unlike EC2's).
		trust, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{
			"Effect": "Allow", "Principal": map[string]any{"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}}})
		if _, err := im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(DefaultBackupRole), Path: aws.String("/service-role/"),
			AssumeRolePolicyDocument: aws.String(string(trust)), PermissionsBoundary: aws.String(boundary),
			Tags: tags.IAM(tags.Base(pv.cfg.Stack)), Description: aws.String("AWS Backup for pilotlight " + pv.cfg.Stack)}); err != nil {
			return fmt.Errorf("create role %s: %s: %w", DefaultBackupRole, region, err)
		}
	case err != nil:
		return fmt.Errorf("get role %s: %s: %w", DefaultBackupRole, region, err)
	case !tags.Managed(tags.FromIAM(out.Role.Tags), pv.cfg.Stack):
		return nil
	}
	attached := map[string]bool{}
	pg := iam.NewListAttachedRolePoliciesPaginator(im, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(DefaultBackupRole)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list policies of role %s: %s: %w", DefaultBackupRole, region, err)
		}
		for _, a := range page.AttachedPolicies {
			attached[aws.ToString(a.PolicyArn)] = true
		}
	}
	for _, name := range backupRolePolicies {
		arn := p.ARN("iam", "", "aws", "policy/"+name)
		if attached[arn] {
			continue
		}
		pv.change("attach %s to role %s", name, DefaultBackupRole)
		if pv.dryRun {
			continue
		}
		if _, err := im.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(DefaultBackupRole), PolicyArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("attach %s to role %s: %s: %w", arn, DefaultBackupRole, region, err)
		}
	}
	return nil
}

// boundaryARN is iampolicy.BoundaryARN, the stack's permissions boundary,
// spelled here because iampolicy imports discover, whose tests import
// recovery and so this package (TestBoundaryARNIsIAMPolicys keeps the two
// equal).
func boundaryARN(p partition.Partition, account, stack string) string {
	return p.ARN("iam", "", account, "policy/"+stack+"-pilotlight-boundary")
}
