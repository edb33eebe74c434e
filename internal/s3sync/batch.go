package s3sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	ctltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Engines of a back-fill.
const (
	// EngineCopy lists both buckets and copies from this process (Sync).
	EngineCopy = "copy"
	// EngineBatch creates an S3 Batch Replication job: S3 generates the
	// manifest, replicates with the bucket's CRR rule, and retries objects
	// whose replication FAILED (S3 never retries those by itself).
	EngineBatch = "batch"
	// EngineAuto picks batch at or above a number of source objects.
	EngineAuto = "auto"
)

// DefaultBatchThreshold is where auto turns to S3 Batch Replication: about
// the keys one process lists and compares in an operator's window (10,000
// keys a second for a few minutes per million is fine; tens of millions
// are hours).
const DefaultBatchThreshold = 20_000_000

// ChooseEngine resolves requested ("" is auto) for a bucket of objects keys
// (negative: unknown, which keeps the copy engine: it needs nothing but
// the bucket).
func ChooseEngine(requested string, objects, threshold int64) (string, error) {
	if threshold <= 0 {
		threshold = DefaultBatchThreshold
	}
	switch requested {
	case EngineCopy, EngineBatch:
		return requested, nil
	case "", EngineAuto:
		if objects >= threshold {
			return EngineBatch, nil
		}
		return EngineCopy, nil
	}
	return "", fmt.Errorf("engine %q: want %s, %s or %s", requested, EngineCopy, EngineBatch, EngineAuto)
}

// batchAPI is what a batch replication needs from S3 Control.
type batchAPI interface {
	CreateJob(ctx context.Context, in *s3control.CreateJobInput, optFns ...func(*s3control.Options)) (*s3control.CreateJobOutput, error)
	DescribeJob(ctx context.Context, in *s3control.DescribeJobInput, optFns ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error)
	ListJobs(ctx context.Context, in *s3control.ListJobsInput, optFns ...func(*s3control.Options)) (*s3control.ListJobsOutput, error)
}

// newS3Control builds the S3 Control client of region. S3 Control puts the
// account id in front of the host (<account>.s3-control.<region>...); the
// endpoint of an emulator (awsenv's override, on 127.0.0.1) has no such
// names, so there the host given is kept, as S3 clients use path style.
func newS3Control(env *awsenv.Env, region string) *s3control.Client {
	return s3control.NewFromConfig(env.For(region), func(o *s3control.Options) {
		if env.EndpointOverridden() {
			o.EndpointResolverV2 = hostAsGiven{s3control.NewDefaultEndpointResolverV2()}
		}
	})
}

type hostAsGiven struct{ s3control.EndpointResolverV2 }

func (r hostAsGiven) ResolveEndpoint(ctx context.Context, p s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	e, err := r.EndpointResolverV2.ResolveEndpoint(ctx, p)
	if err == nil && p.AccountId != nil && p.Endpoint != nil {
		e.URI.Host = strings.TrimPrefix(e.URI.Host, aws.ToString(p.AccountId)+".")
	}
	return e, err
}

// BatchOptions describe one S3 Batch Replication job.
type BatchOptions struct {
	// Account owns the source bucket; S3 Control names it on every call.
	Account string
	// RoleARN is the role S3 Batch Operations assumes: it needs
	// s3:InitiateReplication and s3:GetReplicationConfiguration on the
	// source, s3:PutInventoryConfiguration to generate the manifest, and
	// s3:PutObject on the report bucket.
	RoleARN string
	// ReportBucket receives the completion report (failed tasks only); it
	// must be in the source's region. ReportPrefix defaults to
	// DefaultReportPrefix, where the batch role may write.
	ReportBucket, ReportPrefix string
	// Token makes creation idempotent: S3 answers a CreateJob whose token
	// it has seen with that job. By default a start first looks for the
	// bucket's newest job: one still running is returned as it is, and a
	// new job's token is derived from the bucket and that newest job, so
	// that two starts at once make one job and a start after a job ended
	// (to retry its failed tasks) makes a new one.
	Token string
	// SourceRegion and Source default to the primary region and b.Source.
	SourceRegion, Source string
}

// BatchJob is what `replicate status` shows of a batch replication.
type BatchJob struct {
	JobID     string `json:"job_id"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Source    string `json:"source"`
	Status    string `json:"status"`
	Total     int64  `json:"total"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	// Done: the job ended (Complete, Failed or Cancelled).
	Done bool `json:"done"`
	// Joined: a start found this job of the bucket still running and
	// returned it instead of creating another.
	Joined   bool     `json:"joined,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
	Report   string   `json:"report,omitempty"`
	Duration string   `json:"elapsed,omitempty"`
}

// StartBatchReplication creates the S3 Batch Replication job that
// replicates every source object whose replication status is NONE (objects
// older than the CRR rule) or FAILED, with the bucket's own CRR rule.
func StartBatchReplication(ctx context.Context, env *awsenv.Env, cfg *spec.Config, b spec.Bucket, opts BatchOptions) (*BatchJob, error) {
	if opts.SourceRegion == "" {
		opts.SourceRegion = cfg.Primary.Region
	}
	if opts.Source == "" {
		opts.Source = b.Source
	}
	return startBatch(ctx, newS3Control(env, opts.SourceRegion), opts)
}

// BatchStatus reads a batch replication job.
func BatchStatus(ctx context.Context, env *awsenv.Env, region, account, jobID string) (*BatchJob, error) {
	return batchStatus(ctx, newS3Control(env, region), region, account, jobID)
}

// LatestBatchJob finds the newest batch replication job pilotlight created
// for source (by the job's description) in region and reads it; nil when
// there is none. S3 lists jobs of the last 90 days.
func LatestBatchJob(ctx context.Context, env *awsenv.Env, region, account, source string) (*BatchJob, error) {
	return latestBatch(ctx, newS3Control(env, region), region, account, source)
}

// WaitBatch polls a job until it ends or ctx does, with backoff from first
// (S3 reports progress about once a minute, so the wait grows to max(first,
// a minute)). each, when set, sees every reading.
func WaitBatch(ctx context.Context, env *awsenv.Env, region, account, jobID string, first time.Duration, each func(*BatchJob)) (*BatchJob, error) {
	return waitBatch(ctx, newS3Control(env, region), region, account, jobID, first, each)
}

// batchDescription names a job as pilotlight's back-fill of source; status
// finds the job by it.
func batchDescription(source string) string { return "pilotlight back-fill of " + source }

func latestBatch(ctx context.Context, api batchAPI, region, account, source string) (*BatchJob, error) {
	var newest *ctltypes.JobListDescriptor
	in := &s3control.ListJobsInput{AccountId: aws.String(account), MaxResults: aws.Int32(1000)}
	for {
		out, err := api.ListJobs(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list batch jobs of account %s: %s: %w", account, region, err)
		}
		for i := range out.Jobs {
			j := &out.Jobs[i]
			if aws.ToString(j.Description) != batchDescription(source) || j.Operation != ctltypes.OperationNameS3ReplicateObject {
				continue
			}
			if newest == nil || aws.ToTime(j.CreationTime).After(aws.ToTime(newest.CreationTime)) {
				newest = j
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if newest == nil {
		return nil, nil
	}
	return batchStatus(ctx, api, region, account, aws.ToString(newest.JobId))
}

func waitBatch(ctx context.Context, api batchAPI, region, account, jobID string, first time.Duration, each func(*BatchJob)) (*BatchJob, error) {
	if first <= 0 {
		first = 5 * time.Second
	}
	wait, longest := first, max(first, time.Minute)
	for {
		job, err := batchStatus(ctx, api, region, account, jobID)
		if err != nil {
			return nil, err
		}
		if each != nil {
			each(job)
		}
		if job.Done {
			return job, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return job, fmt.Errorf("wait for batch job %s: %s: still %s: %w", jobID, region, job.Status, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, longest)
	}
}

func startBatch(ctx context.Context, api batchAPI, opts BatchOptions) (*BatchJob, error) {
	if opts.Account == "" || opts.RoleARN == "" || opts.ReportBucket == "" || opts.Source == "" {
		return nil, fmt.Errorf("batch replication of %s (%s): need the account, the Batch Operations role and a report bucket", opts.Source, opts.SourceRegion)
	}
	p, err := partition.Of(opts.SourceRegion)
	if err != nil {
		return nil, fmt.Errorf("batch replication of %s: %w", opts.Source, err)
	}
	prefix := opts.ReportPrefix
	if prefix == "" {
		prefix = DefaultReportPrefix
	}
	token := opts.Token
	if token == "" {
		latest, err := latestBatch(ctx, api, opts.SourceRegion, opts.Account, opts.Source)
		if err != nil {
			return nil, err
		}
		if latest != nil && !latest.Done {
			latest.Joined = true
			return latest, nil
		}
		after := "none"
		if latest != nil {
			after = latest.JobID
		}
		sum := sha256.Sum256([]byte(opts.SourceRegion + "/" + opts.Source + "/after/" + after))
		token = "pilotlight-" + hex.EncodeToString(sum[:12])
	}
	out, err := api.CreateJob(ctx, &s3control.CreateJobInput{
		AccountId:            aws.String(opts.Account),
		ClientRequestToken:   aws.String(token),
		ConfirmationRequired: aws.Bool(false),
		Description:          aws.String(batchDescription(opts.Source)),
		Priority:             aws.Int32(10),
		RoleArn:              aws.String(opts.RoleARN),
		Operation:            &ctltypes.JobOperation{S3ReplicateObject: &ctltypes.S3ReplicateObjectOperation{}},
		ManifestGenerator: &ctltypes.JobManifestGeneratorMemberS3JobManifestGenerator{Value: ctltypes.S3JobManifestGenerator{
			SourceBucket:         aws.String(p.ARN("s3", "", "", opts.Source)),
			EnableManifestOutput: false,
			Filter: &ctltypes.JobManifestGeneratorFilter{
				EligibleForReplication: aws.Bool(true),
				ObjectReplicationStatuses: []ctltypes.ReplicationStatus{
					ctltypes.ReplicationStatusNone, ctltypes.ReplicationStatusFailed,
				},
			},
		}},
		Report: &ctltypes.JobReport{
			Enabled:     true,
			Bucket:      aws.String(p.ARN("s3", "", "", opts.ReportBucket)),
			Prefix:      aws.String(prefix),
			Format:      ctltypes.JobReportFormatReportCsv20180820,
			ReportScope: ctltypes.JobReportScopeFailedTasksOnly,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create batch replication job for %s (%s): %w", opts.Source, opts.SourceRegion, err)
	}
	job := &BatchJob{
		JobID: aws.ToString(out.JobId), Account: opts.Account, Region: opts.SourceRegion, Source: opts.Source,
		Status: string(ctltypes.JobStatusNew), Report: reportURL(opts.ReportBucket, prefix, aws.ToString(out.JobId)),
	}
	return job, nil
}

func batchStatus(ctx context.Context, api batchAPI, region, account, jobID string) (*BatchJob, error) {
	out, err := api.DescribeJob(ctx, &s3control.DescribeJobInput{AccountId: aws.String(account), JobId: aws.String(jobID)})
	if err != nil {
		return nil, fmt.Errorf("describe batch job %s: %s: %w", jobID, region, err)
	}
	d := out.Job
	if d == nil {
		return nil, fmt.Errorf("describe batch job %s: %s: no job in the answer", jobID, region)
	}
	job := &BatchJob{JobID: jobID, Account: account, Region: region, Status: string(d.Status)}
	if g, ok := d.ManifestGenerator.(*ctltypes.JobManifestGeneratorMemberS3JobManifestGenerator); ok {
		job.Source = bucketOfARN(aws.ToString(g.Value.SourceBucket))
	}
	if s := d.ProgressSummary; s != nil {
		job.Total, job.Succeeded, job.Failed = aws.ToInt64(s.TotalNumberOfTasks), aws.ToInt64(s.NumberOfTasksSucceeded), aws.ToInt64(s.NumberOfTasksFailed)
		if s.Timers != nil {
			job.Duration = (time.Duration(aws.ToInt64(s.Timers.ElapsedTimeInActiveSeconds)) * time.Second).String()
		}
	}
	for _, f := range d.FailureReasons {
		job.Reasons = append(job.Reasons, aws.ToString(f.FailureCode)+": "+aws.ToString(f.FailureReason))
	}
	if r := d.Report; r != nil && r.Enabled {
		job.Report = reportURL(bucketOfARN(aws.ToString(r.Bucket)), aws.ToString(r.Prefix), jobID)
	}
	switch d.Status {
	case ctltypes.JobStatusComplete, ctltypes.JobStatusFailed, ctltypes.JobStatusCancelled:
		job.Done = true
	}
	return job, nil
}

// reportURL is where S3 writes a job's completion report.
func reportURL(bucket, prefix, jobID string) string {
	return "s3://" + bucket + "/" + strings.TrimSuffix(prefix, "/") + "/job-" + jobID + "/"
}

// bucketOfARN returns the bucket name of arn:partition:s3:::bucket.
func bucketOfARN(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// metricsAPI reads the daily storage metrics S3 publishes to CloudWatch.
type metricsAPI interface {
	GetMetricStatistics(ctx context.Context, in *cloudwatch.GetMetricStatisticsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// ObjectCount returns how many objects bucket holds by S3's daily
// NumberOfObjects metric in CloudWatch (free, and no listing: counting a
// bucket of hundreds of millions of keys by listing is what auto avoids),
// or -1 when S3 has published none in the last three days (a new bucket).
func ObjectCount(ctx context.Context, env *awsenv.Env, region, bucket string) (int64, error) {
	// Query protocol rather than the SDK's default CBOR: every CloudWatch
	// endpoint answers it (aws and aws-cn alike), and so does moto.
	cw := cloudwatch.NewFromConfig(env.For(region), func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
	return objectCount(ctx, cw, region, bucket, time.Now())
}

func objectCount(ctx context.Context, api metricsAPI, region, bucket string, now time.Time) (int64, error) {
	out, err := api.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace:  aws.String("AWS/S3"),
		MetricName: aws.String("NumberOfObjects"),
		Dimensions: []cwtypes.Dimension{
			{Name: aws.String("BucketName"), Value: aws.String(bucket)},
			{Name: aws.String("StorageType"), Value: aws.String("AllStorageTypes")},
		},
		StartTime:  aws.Time(now.Add(-72 * time.Hour)),
		EndTime:    aws.Time(now),
		Period:     aws.Int32(86400),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil {
		return -1, fmt.Errorf("object count of bucket %s: %s: %w", bucket, region, err)
	}
	n, newest := int64(-1), time.Time{}
	for _, d := range out.Datapoints {
		if t := aws.ToTime(d.Timestamp); n < 0 || t.After(newest) {
			n, newest = int64(aws.ToFloat64(d.Maximum)), t
		}
	}
	return n, nil
}

// BatchRoleName is the role S3 Batch Operations assumes for a stack's
// batch replication jobs: one role for all of its buckets, with one inline
// policy per bucket, made by Setup beside the replication role.
func BatchRoleName(stack string) string { return stack + "-s3-batch-replication" }
