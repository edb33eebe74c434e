package s3sync

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	ctltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
)

// fakeS3Control simulates S3 Batch Operations, which moto does not have,
// on top of moto's buckets: CreateJob checks the request as S3 Control
// would for a replication job and honours ClientRequestToken; the job
// "replicates" by copying every source object the replica lacks (moto
// keeps no replication status, so every object counts as NONE), and
// DescribeJob reports it Complete with its task counts.
type fakeS3Control struct {
	src, dst *s3.Client
	replica  string

	mu     sync.Mutex
	tokens map[string]string
	jobs   map[string]*ctltypes.JobDescriptor
}

func (f *fakeS3Control) CreateJob(ctx context.Context, in *s3control.CreateJobInput, _ ...func(*s3control.Options)) (*s3control.CreateJobOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.tokens[aws.ToString(in.ClientRequestToken)]; ok {
		return &s3control.CreateJobOutput{JobId: aws.String(id)}, nil
	}
	switch {
	case aws.ToString(in.AccountId) == "", aws.ToString(in.RoleArn) == "", in.Priority == nil, aws.ToString(in.ClientRequestToken) == "":
		return nil, fmt.Errorf("InvalidRequest: account, role, priority and token are required")
	case in.Operation == nil || in.Operation.S3ReplicateObject == nil:
		return nil, fmt.Errorf("InvalidRequest: not a replication job")
	case in.Report == nil || !in.Report.Enabled:
		return nil, fmt.Errorf("InvalidRequest: a completion report is required")
	}
	g, ok := in.ManifestGenerator.(*ctltypes.JobManifestGeneratorMemberS3JobManifestGenerator)
	if !ok || in.Manifest != nil {
		return nil, fmt.Errorf("InvalidRequest: replication wants a generated manifest")
	}
	source := bucketOfARN(aws.ToString(g.Value.SourceBucket))
	copied, failed := int64(0), int64(0)
	p := s3.NewListObjectsV2Paginator(f.src, &s3.ListObjectsV2Input{Bucket: aws.String(source)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			_, err := f.dst.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket: aws.String(f.replica), Key: o.Key, CopySource: aws.String(copySource(source, aws.ToString(o.Key))),
			})
			if err != nil {
				failed++
				continue
			}
			copied++
		}
	}
	id := fmt.Sprintf("job-%d", len(f.jobs)+1)
	f.tokens[aws.ToString(in.ClientRequestToken)] = id
	f.jobs[id] = &ctltypes.JobDescriptor{
		JobId: aws.String(id), Status: ctltypes.JobStatusComplete, ManifestGenerator: in.ManifestGenerator, Report: in.Report,
		Operation: in.Operation, RoleArn: in.RoleArn,
		ProgressSummary: &ctltypes.JobProgressSummary{
			TotalNumberOfTasks: aws.Int64(copied + failed), NumberOfTasksSucceeded: aws.Int64(copied), NumberOfTasksFailed: aws.Int64(failed),
		},
	}
	return &s3control.CreateJobOutput{JobId: aws.String(id)}, nil
}

func (f *fakeS3Control) DescribeJob(_ context.Context, in *s3control.DescribeJobInput, _ ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[aws.ToString(in.JobId)]
	if !ok {
		return nil, fmt.Errorf("NoSuchJob: %s", aws.ToString(in.JobId))
	}
	return &s3control.DescribeJobOutput{Job: j}, nil
}

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
// report bucket, is created once per token, and its status shows progress.
func TestBatchReplication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	f.putMany(50)
	ctl := &fakeS3Control{src: f.src, dst: f.dst, replica: f.b.Replica, tokens: map[string]string{}, jobs: map[string]*ctltypes.JobDescriptor{}}
	opts := BatchOptions{
		Account: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/batch-replication",
		ReportBucket: "wp-reports", SourceRegion: "us-east-1", Source: f.b.Source,
	}
	if _, err := startBatch(f.ctx, ctl, BatchOptions{Source: f.b.Source, SourceRegion: "us-east-1"}, time.Now()); err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("a job without a role or report bucket was created: %v", err)
	}
	job, err := startBatch(f.ctx, ctl, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, err := startBatch(f.ctx, ctl, opts, time.Now())
	if err != nil || again.JobID != job.JobID || len(ctl.jobs) != 1 {
		t.Fatalf("a second start the same day made another job: %v %v (%d jobs)", again, err, len(ctl.jobs))
	}
	d := ctl.jobs[job.JobID]
	g := d.ManifestGenerator.(*ctltypes.JobManifestGeneratorMemberS3JobManifestGenerator).Value
	if fmt.Sprint(g.Filter.ObjectReplicationStatuses) != "[NONE FAILED]" || !aws.ToBool(g.Filter.EligibleForReplication) {
		t.Fatalf("manifest filter %+v: FAILED replications must be retried, ineligible objects left out", g.Filter)
	}
	if aws.ToString(g.SourceBucket) != "arn:aws:s3:::"+f.b.Source || d.Report.ReportScope != ctltypes.JobReportScopeFailedTasksOnly {
		t.Fatalf("job: source %s, report %+v", aws.ToString(g.SourceBucket), d.Report)
	}

	st, err := batchStatus(f.ctx, ctl, "us-east-1", opts.Account, job.JobID)
	if err != nil || !st.Done || st.Total != 50 || st.Succeeded != 50 || st.Failed != 0 || st.Source != f.b.Source ||
		st.Report != "s3://wp-reports/pilotlight/batch-replication" {
		t.Fatalf("status: %+v %v", st, err)
	}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := runVerify(f.ctx, f.src, f.dst, p, false, VerifyOptions{}); err != nil || !v.Converged {
		t.Fatalf("verify after the job: %+v %v", v, err)
	}
}
