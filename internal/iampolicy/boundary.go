package iampolicy

import (
	"strings"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Boundary is the --for value that prints the permissions boundary rather
// than a caller's policy: an administrator creates it once, as a managed
// policy named BoundaryName(stack), before the first prepare or deploy.
const Boundary = "boundary"

// BoundaryName and BoundaryARN live in partition (a leaf package) so that
// the role creators (recovery, s3sync, deploy) can name the boundary
// without importing the policy generator.
func BoundaryName(stack string) string { return partition.BoundaryName(stack) }

// BoundaryARN: see partition.BoundaryARN.
func BoundaryARN(region, account, stack string) (string, error) {
	return partition.BoundaryARN(region, account, stack)
}

// BoundaryFor writes the permissions boundary of cfg's roles: the union of
// what the app instances, the S3 replication role, the Lambda and its
// scheduler are given, and nothing of IAM, so that no role pilotlight makes
// can exceed what pilotlight itself meant it to do.
func BoundaryFor(cfg *spec.Config, account string) (*Document, error) {
	// The Lambda runs backup and replicate (and the state store).
	doc, err := For(cfg, account, Backup, Replicate)
	if err != nil {
		return nil, err
	}
	b := &builder{cfg: cfg, acct: account, P: cfg.Primary.Region, D: cfg.DR.Region}
	b.p, _ = partition.Of(cfg.Primary.Region)
	// Nothing of IAM under the boundary, not even backup's exact PassRole
	// of the AWS Backup role: the Lambda therefore cannot start AWS Backup
	// jobs (the aws-backup engine runs from the CLI, whose caller holds
	// --for backup).
	for _, s := range doc.Statement {
		var acts []string
		for _, a := range s.Action {
			if !strings.HasPrefix(a, "iam:") {
				acts = append(acts, a)
			}
		}
		if len(acts) > 0 {
			s.Action = acts
			b.stmts = append(b.stmts, s)
		}
	}
	base := cfg.Stack + "-pilotlight"
	b.add("BoundaryLambdaLogs", []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		[]string{b.arn("logs", b.D, "log-group:/aws/lambda/"+base+":*")}, nil)
	fn := b.arn("lambda", b.D, "function:"+base)
	b.add("BoundarySchedulerInvoke", []string{"lambda:InvokeFunction"}, []string{fn, fn + ":*"}, nil)
	// The app instances read their secrets under /<stack>/ and mount the
	// replica buckets.
	b.add("BoundaryAppSecrets", []string{"ssm:GetParameter", "ssm:GetParameters"},
		[]string{b.p.ARN("ssm", "*", "*", "parameter/"+cfg.Stack+"/*")}, nil)
	var src, dst, srcObj, dstObj []string
	for _, bk := range cfg.Protect.Buckets {
		src = append(src, b.bucketARN(bk.Source))
		dst = append(dst, b.bucketARN(bk.Replica))
		srcObj = append(srcObj, b.bucketARN(bk.Source)+"/*")
		dstObj = append(dstObj, b.bucketARN(bk.Replica)+"/*")
	}
	b.add("BoundaryAppReplicas", []string{"s3:ListBucket", "s3:GetBucketLocation"}, dst, nil)
	b.add("BoundaryAppReplicaObjects", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, dstObj, nil)
	// The S3 replication role.
	b.add("BoundaryReplicationSource", []string{"s3:GetReplicationConfiguration", "s3:ListBucket"}, src, nil)
	b.add("BoundaryReplicationRead", []string{"s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"}, srcObj, nil)
	b.add("BoundaryReplicationWrite", []string{"s3:ReplicateObject", "s3:ReplicateTags", "s3:ReplicateDelete"}, dstObj, nil)
	// The S3 Batch Replication role (s3sync's batchPolicy): generate the
	// manifest, initiate each object's replication, and write the report
	// under the report prefix of this account's buckets.
	b.add("BoundaryBatchManifest", []string{"s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"}, src, nil)
	b.add("BoundaryBatchInitiate", []string{"s3:InitiateReplication"}, srcObj, nil)
	if len(src) > 0 {
		b.add("BoundaryBatchReport", []string{"s3:PutObject"}, []string{b.bucketARN("*") + "/pilotlight/batch-replication/*"},
			map[string]map[string]any{"StringEquals": {"s3:ResourceAccount": account}})
	}
	if len(src) > 0 {
		b.add("BoundaryReplicationKMS", []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"},
			[]string{b.arn("kms", b.P, "key/*"), b.arn("kms", b.D, "key/*")}, b.viaService("s3", b.P, b.D))
	}
	for i := range b.stmts {
		b.stmts[i].Sid = "Boundary" + trimBoundary(b.stmts[i].Sid)
	}
	return &Document{Version: "2012-10-17", Statement: b.merge()}, nil
}

func trimBoundary(sid string) string {
	if len(sid) > len("Boundary") && sid[:len("Boundary")] == "Boundary" {
		return sid[len("Boundary"):]
	}
	return sid
}

// withBoundary is the condition on every IAM write that could create or
// grow a role: the role carries the stack's boundary.
func (b *builder) withBoundary() map[string]map[string]any {
	arn := "arn:" + b.p.ID + ":iam::" + b.acct + ":policy/" + BoundaryName(b.cfg.Stack)
	return map[string]map[string]any{"StringEquals": {"iam:PermissionsBoundary": arn}}
}

// roles grants pilotlight's own roles, by exact name: reads freely, writes
// only when the role carries the boundary.
func (b *builder) roles(sid string, names ...string) {
	var arns []string
	for _, n := range names {
		arns = append(arns, b.role(n))
	}
	b.add(sid+"Read", []string{"iam:GetRole", "iam:GetRolePolicy"}, arns, nil)
	b.add(sid+"Write", []string{"iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"}, arns, b.withBoundary())
	// CreateRole with Tags: only the stack's own tag value.
	b.add(sid+"Tag", []string{"iam:TagRole"}, arns, b.requestTag())
}
