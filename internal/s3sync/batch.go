package s3sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	ctltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

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
	// "pilotlight/batch-replication".
	ReportBucket, ReportPrefix string
	// Token makes creation idempotent: the same token within a day returns
	// the same job. Defaults to one per bucket and UTC day.
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
	Done     bool     `json:"done"`
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
	return startBatch(ctx, s3control.NewFromConfig(env.For(opts.SourceRegion)), opts, time.Now())
}

// BatchStatus reads a batch replication job.
func BatchStatus(ctx context.Context, env *awsenv.Env, region, account, jobID string) (*BatchJob, error) {
	return batchStatus(ctx, s3control.NewFromConfig(env.For(region)), region, account, jobID)
}

func startBatch(ctx context.Context, api batchAPI, opts BatchOptions, now time.Time) (*BatchJob, error) {
	if opts.Account == "" || opts.RoleARN == "" || opts.ReportBucket == "" || opts.Source == "" {
		return nil, fmt.Errorf("batch replication of %s (%s): need the account, the Batch Operations role and a report bucket", opts.Source, opts.SourceRegion)
	}
	p, err := partition.Of(opts.SourceRegion)
	if err != nil {
		return nil, fmt.Errorf("batch replication of %s: %w", opts.Source, err)
	}
	prefix := opts.ReportPrefix
	if prefix == "" {
		prefix = "pilotlight/batch-replication"
	}
	token := opts.Token
	if token == "" {
		sum := sha256.Sum256([]byte(opts.SourceRegion + "/" + opts.Source + "/" + now.UTC().Format("2006-01-02")))
		token = "pilotlight-" + hex.EncodeToString(sum[:12])
	}
	out, err := api.CreateJob(ctx, &s3control.CreateJobInput{
		AccountId:            aws.String(opts.Account),
		ClientRequestToken:   aws.String(token),
		ConfirmationRequired: aws.Bool(false),
		Description:          aws.String("pilotlight back-fill of " + opts.Source),
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
		Status: string(ctltypes.JobStatusNew), Report: "s3://" + opts.ReportBucket + "/" + prefix,
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
		job.Report = "s3://" + bucketOfARN(aws.ToString(r.Bucket)) + "/" + aws.ToString(r.Prefix)
	}
	switch d.Status {
	case ctltypes.JobStatusComplete, ctltypes.JobStatusFailed, ctltypes.JobStatusCancelled:
		job.Done = true
	}
	return job, nil
}

// bucketOfARN returns the bucket name of arn:partition:s3:::bucket.
func bucketOfARN(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
