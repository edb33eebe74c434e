package s3sync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// moto has no S3 Batch Operations jobs: testenv.BatchJobs simulates the S3
// Control job API in test code, over the wire, on top of moto's objects
// (see its file comment), and moves a job one step per DescribeJob.

func TestChooseEngine(t *testing.T) {
	for _, tc := range []struct {
		req     string
		objects int64
		want    string
	}{
		{"", 1_000, EngineCopy}, {EngineAuto, DefaultBatchThreshold, EngineBatch}, {"", -1, EngineCopy},
		{EngineCopy, 1 << 40, EngineCopy}, {EngineBatch, 10, EngineBatch},
	} {
		if got, err := ChooseEngine(tc.req, tc.objects, 0); err != nil || got != tc.want {
			t.Errorf("ChooseEngine(%q, %d) = %q, %v; want %q", tc.req, tc.objects, got, err, tc.want)
		}
	}
	if _, err := ChooseEngine("rsync", 1, 0); err == nil {
		t.Error("an unknown engine was accepted")
	}
}

// A batch replication job asks S3 for a manifest of objects never
// replicated or whose replication FAILED, reports failed tasks to the
// report bucket, is created once per token, and its status shows progress
// until it is done.
func TestBatchReplication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	ctl := testenv.NewBatchJobs(t, f.url)
	ctl.SetFail(func(key string) bool { return strings.HasSuffix(key, "00007.jpg") })
	env := testenv.AWS(t, ctl.URL)
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.src, "wp-reports-"+f.b.Source, "us-east-1")
	f.putMany(50)
	if _, err := Setup(f.ctx, env, f.cfg, f.b, false); err != nil {
		t.Fatal(err)
	}
	acct, err := env.Account(f.ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	opts := BatchOptions{Account: acct, RoleARN: "arn:aws:iam::" + acct + ":role/" + BatchRoleName(f.cfg.Stack), ReportBucket: "wp-reports-" + f.b.Source}
	if _, err := StartBatchReplication(f.ctx, env, f.cfg, f.b, BatchOptions{Account: acct}); err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("a job without a role or report bucket was created: %v", err)
	}
	job, err := StartBatchReplication(f.ctx, env, f.cfg, f.b, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := StartBatchReplication(f.ctx, env, f.cfg, f.b, opts)
	if err != nil || again.JobID != job.JobID || len(ctl.Jobs()) != 1 {
		t.Fatalf("a second start while the job runs made another job: %v %v (%d jobs)", again, err, len(ctl.Jobs()))
	}
	req := ctl.Jobs()[0].Request
	g := req.ManifestGenerator.S3JobManifestGenerator
	if fmt.Sprint(g.Filter.ObjectReplicationStatuses) != "[NONE FAILED]" || !aws.ToBool(g.Filter.EligibleForReplication) {
		t.Fatalf("manifest filter %+v: FAILED replications must be retried, ineligible objects left out", g.Filter)
	}
	if g.SourceBucket != "arn:aws:s3:::"+f.b.Source || req.Report.ReportScope != "FailedTasksOnly" || req.RoleArn != opts.RoleARN {
		t.Fatalf("job: source %s, report %+v, role %s", g.SourceBucket, req.Report, req.RoleArn)
	}

	// The newest job of the bucket is found without its id.
	latest, err := LatestBatchJob(f.ctx, env, "us-east-1", acct, f.b.Source)
	if err != nil || latest == nil || latest.JobID != job.JobID || latest.Done {
		t.Fatalf("latest job: %+v %v", latest, err)
	}
	var seen []string
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	st, err := WaitBatch(ctx, env, "us-east-1", acct, job.JobID, time.Millisecond, func(j *BatchJob) {
		seen = append(seen, fmt.Sprintf("%s %d/%d", j.Status, j.Succeeded+j.Failed, j.Total))
	})
	if err != nil || !st.Done || st.Total != 50 || st.Succeeded != 49 || st.Failed != 1 || st.Source != f.b.Source ||
		st.Report != "s3://wp-reports-"+f.b.Source+"/pilotlight/batch-replication/job-"+job.JobID+"/" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if !strings.Contains(strings.Join(seen, ","), "Active 25/50") {
		t.Fatalf("the follower saw no progress: %v", seen)
	}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := runVerify(f.ctx, f.src, f.dst, p, false, VerifyOptions{}); err != nil || v.MissingCount != 1 {
		t.Fatalf("verify after the job with one failed task: %+v %v", v, err)
	}

	// Once the job has ended, a start makes a new job, which retries the
	// failed task (FAILED is in its manifest filter).
	ctl.SetFail(nil)
	retry, err := StartBatchReplication(f.ctx, env, f.cfg, f.b, opts)
	if err != nil || retry.JobID == job.JobID || len(ctl.Jobs()) != 2 {
		t.Fatalf("a start after the job ended: %+v %v (%d jobs)", retry, err, len(ctl.Jobs()))
	}
	if st, err := WaitBatch(ctx, env, "us-east-1", acct, retry.JobID, time.Millisecond, nil); err != nil || st.Failed != 0 {
		t.Fatalf("retry job: %+v %v", st, err)
	}
	if v, err := runVerify(f.ctx, f.src, f.dst, p, false, VerifyOptions{}); err != nil || !v.Converged {
		t.Fatalf("verify after the retry: %+v %v", v, err)
	}
}

// A job on a bucket without its replication rule fails, with the reason.
func TestBatchReplicationWithoutRule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	ctl := testenv.NewBatchJobs(t, f.url)
	env := testenv.AWS(t, ctl.URL)
	f.createBucket(f.src, f.b.Source, "us-east-1")
	job, err := StartBatchReplication(f.ctx, env, f.cfg, f.b, BatchOptions{Account: "123456789012", RoleARN: "arn:aws:iam::123456789012:role/r", ReportBucket: f.b.Source})
	if err != nil {
		t.Fatal(err)
	}
	st, err := WaitBatch(f.ctx, env, "us-east-1", "123456789012", job.JobID, time.Millisecond, nil)
	if err != nil || st.Status != "Failed" || len(st.Reasons) == 0 || !strings.Contains(st.Reasons[0], "ReplicationConfigurationNotFound") {
		t.Fatalf("job without a rule: %+v %v", st, err)
	}
}

// auto reads the object count S3 publishes daily to CloudWatch; moto's S3
// publishes none, so the test puts the datapoint S3 would.
func TestObjectCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	if n, err := ObjectCount(f.ctx, f.env, "us-east-1", f.b.Source); err != nil || n != -1 {
		t.Fatalf("count without a metric: %d %v", n, err)
	}
	cw := cloudwatch.NewFromConfig(f.env.For("us-east-1"), func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) })
	for i, v := range []float64{30_000_000, 31_000_000} {
		if _, err := cw.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/S3"), MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String("NumberOfObjects"), Value: aws.Float64(v), Timestamp: aws.Time(time.Now().Add(time.Duration(i-2) * 24 * time.Hour)),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("BucketName"), Value: aws.String(f.b.Source)},
				{Name: aws.String("StorageType"), Value: aws.String("AllStorageTypes")}},
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := ObjectCount(f.ctx, f.env, "us-east-1", f.b.Source)
	if err != nil || n != 31_000_000 {
		t.Fatalf("count: %d %v", n, err)
	}
	if e, _ := ChooseEngine(EngineAuto, n, 0); e != EngineBatch {
		t.Fatalf("auto chose %s for %d objects", e, n)
	}
}

// Setup makes the batch role as it makes the replication role: with the
// stack's boundary and tags, trusted by S3 Batch Operations alone, allowed
// to initiate replication of the source and to write reports under the
// report prefix of this account's buckets; a changed policy is put back.
func TestSetupMakesBatchRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "cn-northwest-1", "cn-north-1")
	f.createBucket(f.src, f.b.Source, "cn-northwest-1")
	res, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := f.env.Account(f.ctx, "cn-northwest-1")
	if res.BatchRoleARN != "arn:aws-cn:iam::"+acct+":role/wordpress-s3-batch-replication" {
		t.Fatalf("batch role %q", res.BatchRoleARN)
	}
	api := iam.NewFromConfig(f.env.For("cn-northwest-1"))
	role, err := api.GetRole(f.ctx, &iam.GetRoleInput{RoleName: aws.String(BatchRoleName(f.cfg.Stack))})
	if err != nil || role.Role.PermissionsBoundary == nil ||
		!strings.HasSuffix(aws.ToString(role.Role.PermissionsBoundary.PermissionsBoundaryArn), ":policy/wordpress-pilotlight-boundary") ||
		!strings.Contains(decodePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument)), `"Service":"batchoperations.s3.amazonaws.com"`) {
		t.Fatalf("batch role: %+v %v", role, err)
	}
	pol, err := api.GetRolePolicy(f.ctx, &iam.GetRolePolicyInput{RoleName: aws.String(BatchRoleName(f.cfg.Stack)), PolicyName: aws.String("s3-batch-replication-media")})
	if err != nil {
		t.Fatal(err)
	}
	doc := decodePolicy(aws.ToString(pol.PolicyDocument))
	for _, want := range []string{`"s3:InitiateReplication"],"Resource":["arn:aws-cn:s3:::` + f.b.Source + `/*"]`,
		`"s3:PutInventoryConfiguration"],"Resource":["arn:aws-cn:s3:::` + f.b.Source + `"]`,
		`"Resource":["arn:aws-cn:s3:::*/pilotlight/batch-replication/*"],"Condition":{"StringEquals":{"s3:ResourceAccount":"` + acct + `"}}`} {
		if !strings.Contains(doc, want) {
			t.Fatalf("batch policy lacks %s:\n%s", want, doc)
		}
	}
	if _, err := api.PutRolePolicy(f.ctx, &iam.PutRolePolicyInput{RoleName: aws.String(BatchRoleName(f.cfg.Stack)),
		PolicyName: aws.String("s3-batch-replication-media"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["*"]}]}`)}); err != nil {
		t.Fatal(err)
	}
	// moto loses parts of the rule, so setup puts it again here (the
	// setup test reads it through faithfulReplication); only the roles count.
	again, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
	if err != nil || !strings.Contains(strings.Join(again.Changed, "\n"), "put policy s3-batch-replication-media on IAM role wordpress-s3-batch-replication") ||
		strings.Contains(strings.Join(again.Changed, "\n"), "role wordpress-s3-replication") {
		t.Fatalf("setup after the policy changed: %+v %v", again, err)
	}
}
