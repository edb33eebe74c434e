package s3sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// SetupResult says what setup changed (or, dry, would change).
type SetupResult struct {
	Bucket        string   `json:"bucket"`
	Source        string   `json:"source"`
	Replica       string   `json:"replica"`
	SourceRegion  string   `json:"source_region"`
	ReplicaRegion string   `json:"replica_region"`
	DryRun        bool     `json:"dry_run,omitempty"`
	Changed       []string `json:"changed"`
	Unchanged     bool     `json:"unchanged"`
	RoleARN       string   `json:"role_arn"`
	// BatchRoleARN is the role S3 Batch Replication jobs assume
	// (`replicate sync --engine batch`).
	BatchRoleARN string `json:"batch_role_arn"`
	// Notes are facts worth a user's eye that change nothing, e.g. a
	// capability this region lacks and the path taken instead.
	Notes []string `json:"notes,omitempty"`
}

// RoleName is the replication role of a stack: one role for all of its
// buckets, with one inline policy per bucket.
func RoleName(stack string) string { return stack + "-s3-replication" }

// RuleID is the ID of the replication rule setup owns on a source bucket.
func RuleID(b spec.Bucket) string { return "pilotlight-" + b.Name }

func policyName(b spec.Bucket) string { return "s3-replication-" + b.Name }

// ReplicationEnabled is the one reading of a source bucket's replication
// status (setup writes it, readiness and status read it): the ID of an
// enabled rule in c whose destination is the bucket replica, and whether
// there is one. c is GetBucketReplication's configuration and may be nil
// (no configuration). S3 names the destination by ARN, arn:<partition>:s3:::
// <bucket>; a bare name is accepted too, since bucket names hold no colon.
func ReplicationEnabled(c *types.ReplicationConfiguration, replica string) (ruleID string, ok bool) {
	if c == nil || replica == "" {
		return "", false
	}
	for _, rl := range c.Rules {
		if rl.Status != types.ReplicationRuleStatusEnabled || rl.Destination == nil {
			continue
		}
		dest := aws.ToString(rl.Destination.Bucket)
		if dest == replica || strings.HasSuffix(dest, ":"+replica) {
			return aws.ToString(rl.ID), true
		}
	}
	return "", false
}

// setupDeps are the clients setup calls; tests wrap them where moto falls
// short.
type setupDeps struct {
	src, dst       bucketAPI
	iam            iamAPI
	srcKMS, dstKMS kmsAPI
	account        func(context.Context) (string, error)
	log            *slog.Logger
}

// Setup makes b's replication ready: versioning on both buckets, the
// replica bucket created in the DR region when the config allows it, the
// replication role with a least-privilege policy, and the replication rule.
// It reads before it writes, so a second run changes nothing and says so.
func Setup(ctx context.Context, env *awsenv.Env, cfg *spec.Config, b spec.Bucket, dryRun bool) (*SetupResult, error) {
	if err := samePartition(b.Source, cfg.Primary.Region, b.Replica, cfg.DR.Region); err != nil {
		return nil, err
	}
	return runSetup(ctx, newSetupDeps(env, cfg), cfg, b, dryRun)
}

func newSetupDeps(env *awsenv.Env, cfg *spec.Config) setupDeps {
	return setupDeps{
		src:     newS3(env, cfg.Primary.Region, 0),
		dst:     newS3(env, cfg.DR.Region, 0),
		iam:     iam.NewFromConfig(env.For(cfg.Primary.Region)),
		srcKMS:  kms.NewFromConfig(env.For(cfg.Primary.Region)),
		dstKMS:  kms.NewFromConfig(env.For(cfg.DR.Region)),
		account: func(ctx context.Context) (string, error) { return env.Account(ctx, cfg.Primary.Region) },
	}
}

type setupRun struct {
	setupDeps
	cfg  *spec.Config
	b    spec.Bucket
	part partition.Partition
	dry  bool
	res  *SetupResult
}

func (r *setupRun) change(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if r.dry {
		msg = "would " + msg
	}
	r.res.Changed = append(r.res.Changed, msg)
	if r.log != nil {
		r.log.Info(msg, "stack", r.cfg.Stack, "resource", r.b.Name)
	}
}

func runSetup(ctx context.Context, d setupDeps, cfg *spec.Config, b spec.Bucket, dry bool) (*SetupResult, error) {
	if err := samePartition(b.Source, cfg.Primary.Region, b.Replica, cfg.DR.Region); err != nil {
		return nil, err
	}
	part, _ := partition.Of(cfg.Primary.Region)
	r := &setupRun{setupDeps: d, cfg: cfg, b: b, part: part, dry: dry, res: &SetupResult{
		Bucket: b.Name, Source: b.Source, Replica: b.Replica,
		SourceRegion: cfg.Primary.Region, ReplicaRegion: cfg.DR.Region, DryRun: dry, Changed: []string{},
	}}
	if err := r.sourceBucket(ctx); err != nil {
		return nil, err
	}
	created, err := r.replicaBucket(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.versioning(ctx, r.src, "source", b.Source, cfg.Primary.Region, false); err != nil {
		return nil, err
	}
	if err := r.versioning(ctx, r.dst, "replica", b.Replica, cfg.DR.Region, created && dry); err != nil {
		return nil, err
	}
	keys, err := r.keys(ctx)
	if err != nil {
		return nil, err
	}
	roleCreated, err := r.role(ctx, keys)
	if err != nil {
		return nil, err
	}
	if err := r.rule(ctx, keys, roleCreated); err != nil {
		return nil, err
	}
	if err := r.batchRole(ctx); err != nil {
		return nil, err
	}
	r.res.Unchanged = len(r.res.Changed) == 0
	return r.res, nil
}

// bucketRegion returns the region a bucket lives in.
func bucketRegion(ctx context.Context, api bucketAPI, bucket string) (string, error) {
	out, err := api.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", err
	}
	switch loc := string(out.LocationConstraint); loc {
	case "":
		return "us-east-1", nil // S3 writes no constraint for its first region
	case "EU":
		return "eu-west-1", nil
	default:
		return loc, nil
	}
}

func (r *setupRun) sourceBucket(ctx context.Context) error {
	region := r.cfg.Primary.Region
	loc, err := bucketRegion(ctx, r.src, r.b.Source)
	switch {
	case notFound(err):
		return fmt.Errorf("source bucket %s: does not exist (looked in the primary region %s)", r.b.Source, region)
	case err != nil:
		return fmt.Errorf("source bucket %s: %s: %w", r.b.Source, region, err)
	case loc != region:
		return wrongRegion("source", r.b.Source, loc, region)
	}
	return nil
}

// replicaBucket checks the replica, or creates it when allowed; created
// reports whether it had to be (or, dry, would be).
func (r *setupRun) replicaBucket(ctx context.Context) (created bool, err error) {
	region := r.cfg.DR.Region
	loc, err := bucketRegion(ctx, r.dst, r.b.Replica)
	switch {
	case notFound(err) && !r.b.CreateReplica:
		return false, fmt.Errorf("replica bucket %s: does not exist in the DR region %s (create it, or set create_replica: true)", r.b.Replica, region)
	case notFound(err):
	case err != nil:
		return false, fmt.Errorf("replica bucket %s: %s: %w", r.b.Replica, region, err)
	case loc != region:
		return false, wrongRegion("replica", r.b.Replica, loc, region)
	default:
		return false, nil
	}
	r.change("create replica bucket %s in %s", r.b.Replica, region)
	if r.dry {
		return true, nil
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(r.b.Replica)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	if _, err := r.dst.CreateBucket(ctx, in); err != nil && apiCode(err) != "BucketAlreadyOwnedByYou" {
		return false, fmt.Errorf("create replica bucket %s in %s: %w", r.b.Replica, region, err)
	}
	want := tags.With(tags.Base(r.cfg.Stack), tags.Resource, r.b.Name)
	if _, err := r.dst.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
		Bucket: aws.String(r.b.Replica), Tagging: &types.Tagging{TagSet: tags.S3(want)},
	}); err != nil {
		return false, fmt.Errorf("tag replica bucket %s in %s: %w", r.b.Replica, region, err)
	}
	return true, nil
}

// versioning enables versioning on a bucket; replication needs it on both.
// unborn skips the read for a bucket that a dry run would create.
func (r *setupRun) versioning(ctx context.Context, api bucketAPI, role, bucket, region string, unborn bool) error {
	if !unborn {
		out, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
		if err != nil {
			return fmt.Errorf("read versioning of %s bucket %s (%s): %w", role, bucket, region, err)
		}
		if out.Status == types.BucketVersioningStatusEnabled {
			return nil
		}
	}
	r.change("enable versioning on %s bucket %s (%s)", role, bucket, region)
	if r.dry {
		return nil
	}
	_, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("enable versioning on %s bucket %s (%s) was refused; replication needs versioning on both buckets: %w", role, bucket, region, err)
	}
	return nil
}

// replicationKeys are the KMS facts the role and the rule depend on.
type replicationKeys struct {
	sourceKMS     bool
	sourceKeyARN  string
	replicaKeyARN string
}

// keys finds the source's SSE-KMS key and resolves the configured replica
// key, which must exist, be enabled and live in the DR region: S3 cannot
// encrypt a replica with a key from another region.
func (r *setupRun) keys(ctx context.Context) (replicationKeys, error) {
	var k replicationKeys
	srcKey, srcKMS, err := bucketKMSKey(ctx, r.src, r.b.Source)
	if err != nil {
		return k, fmt.Errorf("read encryption of source bucket %s (%s): %w", r.b.Source, r.cfg.Primary.Region, err)
	}
	k.sourceKMS = srcKMS
	if srcKMS && r.b.ReplicaKMSKey == "" {
		return k, fmt.Errorf("source bucket %s (%s) encrypts with SSE-KMS: set replica_kms_key to a KMS key in the DR region %s so replicas can be encrypted",
			r.b.Source, r.cfg.Primary.Region, r.cfg.DR.Region)
	}
	if srcKMS && srcKey != "" {
		md, err := describeKey(ctx, r.srcKMS, srcKey, r.cfg.Primary.Region)
		if err != nil {
			return k, fmt.Errorf("source bucket %s: %w", r.b.Source, err)
		}
		k.sourceKeyARN = aws.ToString(md.Arn)
	}
	if r.b.ReplicaKMSKey != "" {
		md, err := describeKey(ctx, r.dstKMS, r.b.ReplicaKMSKey, r.cfg.DR.Region)
		if err != nil {
			return k, fmt.Errorf("replica bucket %s: %w", r.b.Replica, err)
		}
		if !md.Enabled || md.KeyState != kmstypes.KeyStateEnabled {
			return k, fmt.Errorf("replica bucket %s: KMS key %s in %s is %s, not enabled", r.b.Replica, r.b.ReplicaKMSKey, r.cfg.DR.Region, md.KeyState)
		}
		if _, _, region, _, _, ok := partition.ParseARN(aws.ToString(md.Arn)); ok && region != r.cfg.DR.Region {
			return k, fmt.Errorf("replica bucket %s: KMS key %s is in %s, not the DR region %s", r.b.Replica, r.b.ReplicaKMSKey, region, r.cfg.DR.Region)
		}
		k.replicaKeyARN = aws.ToString(md.Arn)
	}
	return k, nil
}

func describeKey(ctx context.Context, api kmsAPI, key, region string) (*kmstypes.KeyMetadata, error) {
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("KMS key %s in %s: %w", key, region, err)
	}
	if out.KeyMetadata == nil {
		return nil, fmt.Errorf("KMS key %s in %s: no metadata", key, region)
	}
	return out.KeyMetadata, nil
}

// role makes the stack's replication role and this bucket's inline policy.
func (r *setupRun) role(ctx context.Context, k replicationKeys) (created bool, err error) {
	want := replicationPolicy(r.part, policyInput{
		Source: r.b.Source, Replica: r.b.Replica, SourceRegion: r.cfg.Primary.Region, ReplicaRegion: r.cfg.DR.Region,
		DeleteMarkers: r.b.DeleteMarkers, SourceKMS: k.sourceKMS, SourceKeyARN: k.sourceKeyARN, ReplicaKeyARN: k.replicaKeyARN,
	})
	arn, created, err := r.ensureRole(ctx, roleSpec{
		name: RoleName(r.cfg.Stack), principal: s3Principal, trust: trustPolicy(),
		description: "S3 replication for pilotlight stack " + r.cfg.Stack,
		policyName:  policyName(r.b), policy: want,
		why: fmt.Sprintf("replicate %s to %s", r.b.Source, r.b.Replica),
	})
	r.res.RoleARN = arn
	return created, err
}

// roleSpec is one role setup owns and this bucket's inline policy on it.
type roleSpec struct {
	name, principal, trust, description string
	policyName, policy, why             string
}

// ensureRole makes a role of the stack (with the stack's permissions
// boundary and tags) trusted by one service, and puts the bucket's inline
// policy on it, reading before writing; it returns the role's ARN and
// whether it was (or, dry, would be) created. A role of that name that is
// not the stack's is refused, never taken over.
func (r *setupRun) ensureRole(ctx context.Context, rs roleSpec) (arn string, created bool, err error) {
	name := rs.name
	out, err := r.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	switch {
	case apiCode(err) == "NoSuchEntity":
		r.change("create IAM role %s trusted by %s", name, rs.principal)
		acct, err := r.account(ctx)
		if err != nil {
			return "", false, err
		}
		if r.dry {
			arn = r.part.ARN("iam", "", acct, "role/"+name)
		} else {
			// Only with the stack's permissions boundary: the policy that
			// lets pilotlight create roles requires it (iampolicy).
			boundary, err := partition.BoundaryARN(r.cfg.DR.Region, acct, r.cfg.Stack)
			if err != nil {
				return "", false, err
			}
			c, err := r.iam.CreateRole(ctx, &iam.CreateRoleInput{
				PermissionsBoundary:      aws.String(boundary),
				RoleName:                 aws.String(name),
				AssumeRolePolicyDocument: aws.String(rs.trust),
				Description:              aws.String(rs.description),
				Tags:                     tags.IAM(tags.Base(r.cfg.Stack)),
			})
			if err != nil {
				return "", false, fmt.Errorf("create IAM role %s (%s): %w", name, r.part.ID, err)
			}
			arn = aws.ToString(c.Role.Arn)
		}
		created = true
	case err != nil:
		return "", false, fmt.Errorf("read IAM role %s (%s): %w", name, r.part.ID, err)
	default:
		if !tags.Managed(tags.FromIAM(out.Role.Tags), r.cfg.Stack) {
			return "", false, fmt.Errorf("IAM role %s exists but is not pilotlight's for stack %s (tags %s=%s, %s=%s missing): rename the stack or remove the role",
				name, r.cfg.Stack, tags.ManagedBy, tags.Tool, tags.Stack, r.cfg.Stack)
		}
		arn = aws.ToString(out.Role.Arn)
		if !samePolicy(aws.ToString(out.Role.AssumeRolePolicyDocument), rs.trust) {
			r.change("reset the trust policy of IAM role %s to %s", name, rs.principal)
			if !r.dry {
				if _, err := r.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
					RoleName: aws.String(name), PolicyDocument: aws.String(rs.trust),
				}); err != nil {
					return "", false, fmt.Errorf("update trust policy of IAM role %s: %w", name, err)
				}
			}
		}
	}
	if !created {
		pol, err := r.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(rs.policyName)})
		switch {
		case apiCode(err) == "NoSuchEntity":
		case err != nil:
			return "", false, fmt.Errorf("read policy %s of IAM role %s: %w", rs.policyName, name, err)
		case samePolicy(aws.ToString(pol.PolicyDocument), rs.policy):
			return arn, false, nil
		}
	}
	r.change("put policy %s on IAM role %s (%s)", rs.policyName, name, rs.why)
	if r.dry {
		return arn, created, nil
	}
	if _, err := r.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(name), PolicyName: aws.String(rs.policyName), PolicyDocument: aws.String(rs.policy),
	}); err != nil {
		return "", false, fmt.Errorf("put policy %s on IAM role %s: %w", rs.policyName, name, err)
	}
	return arn, created, nil
}

// desiredRule is the one replication rule setup owns on the source.
func (r *setupRun) desiredRule(k replicationKeys, rtc bool) types.ReplicationRule {
	dm := types.DeleteMarkerReplicationStatusDisabled
	if r.b.DeleteMarkers {
		dm = types.DeleteMarkerReplicationStatusEnabled
	}
	dest := &types.Destination{
		Bucket:       aws.String(r.part.ARN("s3", "", "", r.b.Replica)),
		StorageClass: types.StorageClass(r.b.StorageClass),
	}
	if k.replicaKeyARN != "" {
		dest.EncryptionConfiguration = &types.EncryptionConfiguration{ReplicaKmsKeyID: aws.String(k.replicaKeyARN)}
	}
	if rtc {
		// RTC needs replication metrics, at the same 15 minutes.
		dest.ReplicationTime = &types.ReplicationTime{Status: types.ReplicationTimeStatusEnabled, Time: &types.ReplicationTimeValue{Minutes: aws.Int32(15)}}
		dest.Metrics = &types.Metrics{Status: types.MetricsStatusEnabled, EventThreshold: &types.ReplicationTimeValue{Minutes: aws.Int32(15)}}
	}
	rule := types.ReplicationRule{
		ID:                      aws.String(RuleID(r.b)),
		Status:                  types.ReplicationRuleStatusEnabled,
		Priority:                aws.Int32(1),
		Filter:                  &types.ReplicationRuleFilter{Prefix: aws.String("")},
		DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: dm},
		Destination:             dest,
	}
	if k.sourceKMS || k.replicaKeyARN != "" {
		rule.SourceSelectionCriteria = &types.SourceSelectionCriteria{
			SseKmsEncryptedObjects: &types.SseKmsEncryptedObjects{Status: types.SseKmsEncryptedObjectsStatusEnabled},
		}
	}
	return rule
}

// rule puts the replication rule unless the bucket already has it. A
// bucket with rules pilotlight did not make is left alone: S3 keeps one
// configuration per bucket, and replacing it would drop them.
func (r *setupRun) rule(ctx context.Context, k replicationKeys, roleCreated bool) error {
	region := r.cfg.Primary.Region
	var have *types.ReplicationConfiguration
	out, err := r.src.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(r.b.Source)})
	switch {
	case apiCode(err) == "ReplicationConfigurationNotFoundError":
	case err != nil:
		return fmt.Errorf("read replication of source bucket %s (%s): %w", r.b.Source, region, err)
	default:
		have = out.ReplicationConfiguration
	}
	if have != nil {
		var foreign []string
		for _, rl := range have.Rules {
			if aws.ToString(rl.ID) != RuleID(r.b) {
				foreign = append(foreign, aws.ToString(rl.ID))
			}
		}
		if len(foreign) > 0 {
			return fmt.Errorf("source bucket %s (%s) has replication rules pilotlight did not make (%s): remove them or replicate with them",
				r.b.Source, region, strings.Join(foreign, ", "))
		}
	}
	want := r.desiredRule(k, r.b.RTC)
	if have != nil && aws.ToString(have.Role) == r.res.RoleARN && len(have.Rules) == 1 && sameRule(have.Rules[0], want) {
		return nil
	}
	// Without RTC the rule on the bucket may be the fallback for a region
	// that lacks it: that counts as done too.
	if have != nil && r.b.RTC && aws.ToString(have.Role) == r.res.RoleARN && len(have.Rules) == 1 && sameRule(have.Rules[0], r.desiredRule(k, false)) {
		r.res.Notes = append(r.res.Notes, "the rule has no Replication Time Control: it was not available when set up")
		return nil
	}
	r.change("put replication rule %s on %s (%s) to %s (%s)", RuleID(r.b), r.b.Source, region, r.b.Replica, r.cfg.DR.Region)
	if r.dry {
		return nil
	}
	err = r.putRule(ctx, want, roleCreated)
	if err != nil && r.b.RTC && unsupported(err) {
		// Capability probe: RTC is not offered in every region/partition.
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("Replication Time Control is not available for %s (%s): rule set without it (%v)", r.b.Source, region, err))
		err = r.putRule(ctx, r.desiredRule(k, false), roleCreated)
	}
	if err != nil {
		return fmt.Errorf("put replication rule on source bucket %s (%s): %w", r.b.Source, region, err)
	}
	return nil
}

// putRule writes the configuration. A role created moments ago may not be
// visible to S3 yet (IAM is eventually consistent): then retry for a while
// with backoff instead of failing the first run.
func (r *setupRun) putRule(ctx context.Context, rule types.ReplicationRule, roleCreated bool) error {
	in := &s3.PutBucketReplicationInput{
		Bucket: aws.String(r.b.Source),
		ReplicationConfiguration: &types.ReplicationConfiguration{
			Role: aws.String(r.res.RoleARN), Rules: []types.ReplicationRule{rule},
		},
	}
	wait := time.Second
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := r.src.PutBucketReplication(ctx, in)
		if err == nil || !roleCreated || apiCode(err) != "InvalidArgument" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// unsupported reports whether S3 refused a feature rather than the request.
func unsupported(err error) bool {
	switch apiCode(err) {
	case "InvalidRequest", "InvalidArgument", "NotImplemented", "MalformedXML":
		return true
	}
	return false
}

// sameRule compares what matters in two rules, with S3's defaults filled
// in: a missing filter or an empty prefix both mean every object, a
// missing DeleteMarkerReplication means disabled, no storage class means
// STANDARD.
func sameRule(have, want types.ReplicationRule) bool {
	return ruleViewOf(have) == ruleViewOf(want)
}

type ruleView struct {
	id, status, prefix, dest, storageClass, replicaKey string
	priority                                           int32
	deleteMarkers, kmsObjects, rtc, metrics            bool
}

func ruleViewOf(r types.ReplicationRule) ruleView {
	v := ruleView{id: aws.ToString(r.ID), status: string(r.Status), priority: aws.ToInt32(r.Priority)}
	if v.priority == 0 {
		v.priority = 1 // only one rule: any priority is the top one
	}
	v.prefix = aws.ToString(r.Prefix) //nolint:staticcheck // V1 rules carry the prefix here
	if r.Filter != nil {
		v.prefix = aws.ToString(r.Filter.Prefix)
	}
	if r.DeleteMarkerReplication != nil {
		v.deleteMarkers = r.DeleteMarkerReplication.Status == types.DeleteMarkerReplicationStatusEnabled
	}
	if r.SourceSelectionCriteria != nil && r.SourceSelectionCriteria.SseKmsEncryptedObjects != nil {
		v.kmsObjects = r.SourceSelectionCriteria.SseKmsEncryptedObjects.Status == types.SseKmsEncryptedObjectsStatusEnabled
	}
	if d := r.Destination; d != nil {
		v.dest = aws.ToString(d.Bucket)
		v.storageClass = string(d.StorageClass)
		if d.EncryptionConfiguration != nil {
			v.replicaKey = aws.ToString(d.EncryptionConfiguration.ReplicaKmsKeyID)
		}
		v.rtc = d.ReplicationTime != nil && d.ReplicationTime.Status == types.ReplicationTimeStatusEnabled
		v.metrics = d.Metrics != nil && d.Metrics.Status == types.MetricsStatusEnabled
	}
	if v.storageClass == "" {
		v.storageClass = string(types.StorageClassStandard)
	}
	return v
}

// sortedKeys is left for replicate_test.go, its only caller since the tag
// lists moved to package tags.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
