package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// replicateBatchConfig is one bucket pair in the China regions.
func replicateBatchConfig(t *testing.T, src, dst string) string {
	return writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr:      { region: cn-north-1 }
protect:
  buckets:
    - name: media
      source: `+src+`
      replica: `+dst+`
      create_replica: true
`)
}

// TestReplicateBatchEngine drives sync --engine batch|auto and status
// through the command line. moto has no S3 Batch Operations jobs: the S3
// Control job API is simulated in test code by testenv.BatchJobs on top of
// moto's objects (a job moves one step per DescribeJob), and moto's S3
// publishes no object counts, so the test puts the one S3 would.
func TestReplicateBatchEngine(t *testing.T) {
	moto := testenv.Shared(t).NewAccount(t)
	ctl := testenv.NewBatchJobs(t, moto.URL)
	ctl.SetSteps(4) // so that --wait polls through Active
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts := testenv.Options(ctl.URL)
	envOpts.PollScale = 0.001
	env, err := awsenv.Load(ctx, *envOpts)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := mediaBucket(ctx, t, env)
	reports := "wp-reports-" + testenv.RandomAccountID()
	s3c := env.S3("cn-northwest-1", 0)
	for _, k := range []string{"b.jpg", "c.jpg"} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(src), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(reports),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "cn-northwest-1"}}); err != nil {
		t.Fatal(err)
	}
	run := cliRunner(ctx, envOpts, replicateBatchConfig(t, src, dst))

	if code, out, errOut := run("replicate", "setup"); code != 0 || !strings.Contains(out, "create IAM role wordpress-s3-batch-replication trusted by batchoperations.s3.amazonaws.com") {
		t.Fatalf("setup: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run("replicate", "status"); code != 0 || !strings.Contains(out, "no batch replication job") {
		t.Fatalf("status before any job: %d %s", code, out)
	}
	if code, _, errOut := run("replicate", "sync", "--engine", "batch"); code != 2 || !strings.Contains(errOut, "--report-bucket") {
		t.Fatalf("batch without a report bucket: %d %s", code, errOut)
	}
	for _, flag := range []string{"--delete", "--restore-archived"} {
		if code, _, errOut := run("replicate", "sync", "--engine", "batch", "--report-bucket", reports, flag); code != 2 || !strings.Contains(errOut, flag+": ") {
			t.Fatalf("batch with %s: %d %s", flag, code, errOut)
		}
	}
	if code, _, _ := run("replicate", "sync", "--engine", "rsync"); code != 2 {
		t.Fatalf("--engine rsync: %d", code)
	}
	if code, out, _ := run("replicate", "sync", "--engine", "batch", "--report-bucket", reports, "--dry-run"); code != 0 ||
		!strings.Contains(out, "would start an S3 Batch Replication job") || len(ctl.Jobs()) != 0 {
		t.Fatalf("batch --dry-run: %d %s (%d jobs)", code, out, len(ctl.Jobs()))
	}

	code, out, errOut := run("replicate", "sync", "--engine", "batch", "--report-bucket", reports, "-o", "json")
	var synced replicateSyncResults
	if code != 0 || json.Unmarshal([]byte(out), &synced) != nil || len(synced.BatchJobs) != 1 || len(synced.Buckets) != 0 {
		t.Fatalf("sync --engine batch: %d %s %s", code, out, errOut)
	}
	id := synced.BatchJobs[0].JobID
	acct, _ := env.Account(ctx, "cn-northwest-1")
	if j := ctl.Jobs()[0]; j.ID != id || j.Region != "cn-northwest-1" || j.Request.RoleArn != "arn:aws-cn:iam::"+acct+":role/wordpress-s3-batch-replication" ||
		j.Request.ManifestGenerator.S3JobManifestGenerator.SourceBucket != "arn:aws-cn:s3:::"+src || j.Request.Report.Bucket != "arn:aws-cn:s3:::"+reports {
		t.Fatalf("job request: %+v", j)
	}

	// The start is an operation of its own, naming the job, as the copy
	// engine's syncs are.
	code, out, _ = run("runs", "-o", "json", "--kind", "replicate-sync")
	var runs runsResult
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs.Runs) == 0 || len(runs.Runs[0].Results) != 1 ||
		!strings.Contains(runs.Runs[0].Results[0].Detail, "batch replication job "+id+" started") || runs.Runs[0].Phase != operation.PhaseCompleted {
		t.Fatalf("runs after the batch start: %d %s", code, out)
	}

	// Without --job, each bucket's newest job; not ended yet: exit 0.
	code, out, _ = run("replicate", "status", "-o", "json")
	var st replicateResults[replicateStatusResult]
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Buckets) != 1 || st.Buckets[0].Job == nil ||
		st.Buckets[0].Job.JobID != id || st.Buckets[0].Job.Done {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out, _ := run("replicate", "sync", "--engine", "batch", "--report-bucket", reports); code != 0 ||
		!strings.Contains(out, "job "+id+" is still ") || !strings.Contains(out, ": not starting another") || len(ctl.Jobs()) != 1 {
		t.Fatalf("sync while the job runs: %d %s (%d jobs)", code, out, len(ctl.Jobs()))
	}
	code, out, errOut = run("replicate", "status", "--job", id, "--wait")
	if code != 0 || !strings.Contains(out, "job "+id+" Complete: 3 of 3 tasks succeeded, 0 failed") ||
		!strings.Contains(out, "report of failed tasks: s3://"+reports+"/pilotlight/batch-replication/job-"+id+"/") ||
		!strings.Contains(errOut, "status=Active") || !strings.Contains(errOut, "status=Complete") {
		t.Fatalf("status --wait: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run("replicate", "verify"); code != 0 {
		t.Fatalf("verify after the batch job: %d %s", code, out)
	}

	// auto: S3's daily count (put here, as moto's S3 publishes none)
	// against the threshold.
	cw := cloudwatch.NewFromConfig(env.For("cn-northwest-1"), func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/S3"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("NumberOfObjects"), Value: aws.Float64(3), Timestamp: aws.Time(time.Now().Add(-time.Hour)),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("BucketName"), Value: aws.String(src)},
			{Name: aws.String("StorageType"), Value: aws.String("AllStorageTypes")}},
	}}}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run("replicate", "sync", "--engine", "auto", "--batch-threshold", "10", "-o", "json")
	synced = replicateSyncResults{}
	if code != 0 || json.Unmarshal([]byte(out), &synced) != nil || synced.Engines[0].Engine != s3sync.EngineCopy ||
		synced.Engines[0].Objects != 3 || len(synced.Buckets) != 1 || synced.Buckets[0].Skipped != 3 {
		t.Fatalf("auto below the threshold: %d %s", code, out)
	}
	if code, _, errOut := run("replicate", "sync", "--engine", "auto", "--batch-threshold", "3"); code != 2 || !strings.Contains(errOut, "needs --report-bucket") {
		t.Fatalf("auto choosing batch without a report bucket: %d %s", code, errOut)
	}
	ctl.SetFail(func(key string) bool { return key == "c.jpg" })
	code, out, _ = run("replicate", "sync", "--engine", "auto", "--batch-threshold", "3", "--report-bucket", reports)
	if code != 0 || !strings.Contains(out, "engine batch (3 objects by S3's daily count, at or above 3)") || len(ctl.Jobs()) != 2 {
		t.Fatalf("auto at the threshold: %d %s (%d jobs)", code, out, len(ctl.Jobs()))
	}
	// A job with failed tasks is an exit 1 once it ended.
	if code, out, errOut := run("replicate", "status", "--wait"); code != 1 || !strings.Contains(out, "2 of 3 tasks succeeded, 1 failed") ||
		!strings.Contains(errOut, "1 failed tasks of 3") {
		t.Fatalf("status of a job with a failed task: %d %s %s", code, out, errOut)
	}
}

// TestReplicateRestoreArchived: --restore-archived asks S3 to restore the
// archived objects and a later sync copies them. moto restores at once (the
// next HEAD says the restore finished), so the second sync copies them
// here; the hours AWS takes are simulated in s3sync's restore test.
func TestReplicateRestoreArchived(t *testing.T) {
	moto := testenv.Shared(t).NewAccount(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts := testenv.Options(moto.URL)
	env, err := awsenv.Load(ctx, *envOpts)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := mediaBucket(ctx, t, env)
	s3c := env.S3("cn-northwest-1", 0)
	for k, class := range map[string]types.StorageClass{"cold.jpg": types.StorageClassGlacier, "colder.jpg": types.StorageClassDeepArchive} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(src), Key: aws.String(k), Body: strings.NewReader(k), StorageClass: class}); err != nil {
			t.Fatal(err)
		}
	}
	run := cliRunner(ctx, envOpts, replicateBatchConfig(t, src, dst))
	if code, out, errOut := run("replicate", "setup"); code != 0 {
		t.Fatalf("setup: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run("replicate", "sync"); code != 0 || !strings.Contains(out, "copied 1 objects") || !strings.Contains(out, "2 archived objects (Glacier, Deep Archive) skipped: --restore-archived restores them") {
		t.Fatalf("sync without restore: %d %s", code, out)
	}
	if code, _, errOut := run("replicate", "sync", "--restore-archived", "--restore-tier", "Fast"); code != 2 || !strings.Contains(errOut, "restore tier") {
		t.Fatalf("--restore-tier Fast: %d %s", code, errOut)
	}
	code, out, _ := run("replicate", "sync", "--restore-archived", "-o", "json")
	var synced replicateSyncResults
	if code != 0 || json.Unmarshal([]byte(out), &synced) != nil {
		t.Fatalf("sync --restore-archived: %d %s", code, out)
	}
	if r := synced.Buckets[0].Restore; r == nil || r.Requested != 2 || r.Tier != "Bulk" || r.Days != s3sync.DefaultRestoreDays || synced.Buckets[0].Archived != 2 {
		t.Fatalf("restores requested: %s", out)
	}
	if code, out, _ := run("replicate", "sync", "--restore-archived=2"); code != 0 || !strings.Contains(out, "copied 2 objects") ||
		!strings.Contains(out, "archived: 2 restored and copied, 0 restores requested (Bulk tier, kept 2 days), 0 still being restored") {
		t.Fatalf("sync after the restores: %d %s", code, out)
	}
	if code, out, _ := run("replicate", "verify"); code != 0 || !strings.Contains(out, "converged: 3 source objects") {
		t.Fatalf("verify: %d %s", code, out)
	}
}
