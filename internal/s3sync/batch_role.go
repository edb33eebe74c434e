package s3sync

import (
	"context"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// batchPrincipal is the service principal S3 Batch Operations assumes a
// job's role as; like S3's own, it is the same name in every partition.
const batchPrincipal = "batchoperations.s3.amazonaws.com"

// batchTrustPolicy lets S3 Batch Operations assume the batch role.
func batchTrustPolicy() string {
	return policyDoc{Version: "2012-10-17", Statement: []statement{{
		Effect: "Allow", Principal: map[string]string{"Service": batchPrincipal}, Action: []string{"sts:AssumeRole"},
	}}}.String()
}

func batchPolicyName(bucket string) string { return "s3-batch-replication-" + bucket }

// DefaultReportPrefix is where batch jobs write their completion reports in
// the report bucket; the batch role may write there and nowhere else.
const DefaultReportPrefix = "pilotlight/batch-replication"

// batchPolicy is the least privilege S3 Batch Operations needs to back-fill
// source with its own replication rule: generate the manifest (an inventory
// of the source, through its replication configuration), initiate each
// object's replication, and write the completion report. The replication
// itself runs as the replication role, which the rule names. The report
// bucket is chosen per job (--report-bucket), so the report is allowed
// under DefaultReportPrefix in any bucket of this account, never another's.
func batchPolicy(p partition.Partition, source, account string) string {
	return policyDoc{Version: "2012-10-17", Statement: []statement{
		{Sid: "Manifest", Effect: "Allow", Action: []string{"s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"},
			Resource: []string{p.ARN("s3", "", "", source)}},
		{Sid: "Initiate", Effect: "Allow", Action: []string{"s3:InitiateReplication"},
			Resource: []string{p.ARN("s3", "", "", source+"/*")}},
		{Sid: "Report", Effect: "Allow", Action: []string{"s3:PutObject"},
			Resource:  []string{p.ARN("s3", "", "", "*/"+DefaultReportPrefix+"/*")},
			Condition: map[string]map[string]any{"StringEquals": {"s3:ResourceAccount": account}}},
	}}.String()
}

// batchRole makes the stack's batch replication role and this bucket's
// policy on it, as role does the replication role.
func (r *setupRun) batchRole(ctx context.Context) error {
	acct, err := r.account(ctx)
	if err != nil {
		return err
	}
	arn, _, err := r.ensureRole(ctx, roleSpec{
		name: BatchRoleName(r.cfg.Stack), principal: batchPrincipal, trust: batchTrustPolicy(),
		description: "S3 Batch Replication back-fills for pilotlight stack " + r.cfg.Stack,
		policyName:  batchPolicyName(r.b.Name), policy: batchPolicy(r.part, r.b.Source, acct),
		why: "back-fill " + r.b.Source + " with S3 Batch Replication",
	})
	r.res.BatchRoleARN = arn
	return err
}
