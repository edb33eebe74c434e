package testenv

// S3 Batch Operations, simulated in test code on top of moto's objects.
//
// moto 5.2.1 has no S3 Control job API (CreateJob, DescribeJob, ListJobs),
// and no replication: its buckets store a replication rule and never act on
// it. BatchJobs is a front in front of a moto endpoint that answers the job
// API itself, over the real REST-XML wire format (so the SDK's own
// serializers are exercised), and forwards every other request to moto.
// A replication job does what S3 Batch Replication does with a generated
// manifest: it reads the source bucket's replication rule (a bucket without
// an enabled one fails the job, as on AWS) and copies every source object
// to the rule's destination with the rule's storage class. moto keeps no
// replication status, so every object counts as NONE. AWS's time is
// simulated by DescribeJob: each reading moves the job one step (New,
// Preparing, Active with a share of the tasks done, Complete), so a
// follower sees progress and must poll. It lives here, in a package only
// tests import, so it is never compiled into the product.

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/emulator"
)

// BatchJobs answers S3 Control's job API for tests (see the file comment).
type BatchJobs struct {
	// URL is the endpoint to give clients instead of moto's.
	URL string

	env *awsenv.Env
	mu  sync.Mutex
	// steps is how many DescribeJob readings an Active job takes to
	// finish its tasks; fail makes a key's task fail (SetSteps, SetFail).
	steps int
	fail  func(key string) bool
	// tokens maps ClientRequestToken to a job id, as S3 keeps it.
	tokens map[string]string
	jobs   map[string]*SimJob
	order  []string
}

// SimJob is one simulated job and the request that made it.
type SimJob struct {
	ID, Account, Region, Status string
	Request                     CreateJobRequest
	Created                     time.Time

	keys              []string
	done, ok, failed  int
	reasons           []string
	dest, destRegion  string
	storageClass      string
	describes, active int
}

// CreateJobRequest is the part of CreateJob's body the simulation reads.
type CreateJobRequest struct {
	XMLName              xml.Name `xml:"CreateJobRequest"`
	ClientRequestToken   string
	Description          string
	Priority             *int
	RoleArn              string
	ConfirmationRequired bool
	Operation            struct {
		S3ReplicateObject *struct{} `xml:"S3ReplicateObject"`
		S3PutObjectCopy   *struct{} `xml:"S3PutObjectCopy"`
	}
	Manifest          *struct{} `xml:"Manifest"`
	ManifestGenerator *struct {
		S3JobManifestGenerator struct {
			SourceBucket         string
			EnableManifestOutput bool
			Filter               struct {
				EligibleForReplication    *bool
				ObjectReplicationStatuses []string `xml:"ObjectReplicationStatuses>member"`
			}
		}
	}
	Report *struct {
		Bucket, Format, Prefix, ReportScope string
		Enabled                             bool
	}
}

// NewBatchJobs starts the front before upstream (a moto Account URL); it
// stops when the test ends.
func NewBatchJobs(t testing.TB, upstream string) *BatchJobs {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	b := &BatchJobs{steps: 2, env: AWS(t, upstream), tokens: map[string]string{}, jobs: map[string]*SimJob{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v20180820/jobs") {
			rp.ServeHTTP(w, r)
			return
		}
		b.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

// SetSteps sets how many DescribeJob readings an Active job takes to
// finish its tasks (default 2).
func (b *BatchJobs) SetSteps(n int) { b.mu.Lock(); b.steps = n; b.mu.Unlock() }

// SetFail makes the task of each key fail for which fail says so (a
// replication S3 could not do, e.g. a KMS key the role may not use); nil
// fails none.
func (b *BatchJobs) SetFail(fail func(key string) bool) { b.mu.Lock(); b.fail = fail; b.mu.Unlock() }

// Jobs returns the jobs created so far, oldest first.
func (b *BatchJobs) Jobs() []*SimJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*SimJob, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, b.jobs[id])
	}
	return out
}

func (b *BatchJobs) serve(w http.ResponseWriter, r *http.Request) {
	region, _, _, _ := emulator.Identify(r)
	account := r.Header.Get("x-amz-account-id")
	if account == "" {
		ctlError(w, http.StatusBadRequest, "InvalidRequest", "x-amz-account-id is required")
		return
	}
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v20180820/jobs"), "/")
	ctx := r.Context()
	switch {
	case r.Method == http.MethodPost && id == "":
		body, _ := io.ReadAll(r.Body)
		var in CreateJobRequest
		if err := xml.Unmarshal(body, &in); err != nil {
			ctlError(w, http.StatusBadRequest, "MalformedXML", err.Error())
			return
		}
		jobID, code, msg := b.create(ctx, account, region, in)
		if code != "" {
			ctlError(w, http.StatusBadRequest, code, msg)
			return
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"CreateJobResult"`
			JobId   string
		}{JobId: jobID})
	case r.Method == http.MethodGet && id == "":
		b.list(w, account, region, r.URL.Query()["jobStatuses"])
	case r.Method == http.MethodGet:
		j, ok := b.describe(ctx, account, region, id)
		if !ok {
			ctlError(w, http.StatusNotFound, "NoSuchJob", "The specified job does not exist: "+id)
			return
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"DescribeJobResult"`
			Job     jobXML
		}{Job: j})
	default:
		ctlError(w, http.StatusNotImplemented, "NotImplemented", r.Method+" "+r.URL.Path+" is not simulated")
	}
}

// create checks the request as S3 Control does for a replication job and
// honours ClientRequestToken.
func (b *BatchJobs) create(ctx context.Context, account, region string, in CreateJobRequest) (string, string, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.tokens[account+"/"+in.ClientRequestToken]; ok {
		return id, "", ""
	}
	g := in.ManifestGenerator
	switch {
	case in.RoleArn == "", in.Priority == nil, in.ClientRequestToken == "":
		return "", "InvalidRequest", "role, priority and token are required"
	case in.Operation.S3ReplicateObject == nil:
		return "", "InvalidRequest", "only S3ReplicateObject is simulated"
	case in.Report == nil || !in.Report.Enabled:
		return "", "InvalidRequest", "a completion report is required for a replication job"
	case g == nil || in.Manifest != nil:
		return "", "InvalidRequest", "this simulation takes a generated manifest only"
	}
	id := fmt.Sprintf("%08x-sim-%04d", time.Now().UnixNano()&0xffffffff, len(b.order)+1)
	j := &SimJob{ID: id, Account: account, Region: region, Status: "New", Request: in, Created: time.Now()}
	b.tokens[account+"/"+in.ClientRequestToken] = id
	b.jobs[id] = j
	b.order = append(b.order, id)
	return id, "", ""
}

// step moves j one step on, as AWS's time would between two readings.
func (b *BatchJobs) step(ctx context.Context, j *SimJob) {
	j.describes++
	switch j.Status {
	case "New":
		j.Status = "Preparing"
	case "Preparing":
		// Preparing is when S3 generates the manifest from the bucket.
		if err := b.prepare(ctx, j); err != nil {
			j.Status = "Failed"
			j.reasons = append(j.reasons, err.Error())
			return
		}
		j.Status = "Active"
	case "Active":
		j.active++
		steps := max(b.steps, 1)
		upto := len(j.keys) * j.active / steps
		if j.active >= steps {
			upto = len(j.keys)
		}
		for ; j.done < upto; j.done++ {
			if b.replicate(ctx, j, j.keys[j.done]) {
				j.ok++
			} else {
				j.failed++
			}
		}
		if j.done == len(j.keys) {
			j.Status = "Complete"
			b.report(ctx, j)
		}
	}
}

func (b *BatchJobs) s3(region string) *s3.Client { return b.env.S3(region, 0) }

// prepare reads the source's replication rule and lists the manifest.
func (b *BatchJobs) prepare(ctx context.Context, j *SimJob) error {
	src := bucketOf(j.Request.ManifestGenerator.S3JobManifestGenerator.SourceBucket)
	api := b.s3(j.Region)
	rc, err := api.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(src)})
	if err != nil {
		return fmt.Errorf("ReplicationConfigurationNotFound: source bucket %s: %v", src, err)
	}
	for _, rl := range rc.ReplicationConfiguration.Rules {
		if rl.Status == s3types.ReplicationRuleStatusEnabled && rl.Destination != nil {
			j.dest = bucketOf(aws.ToString(rl.Destination.Bucket))
			j.storageClass = string(rl.Destination.StorageClass)
			break
		}
	}
	if j.dest == "" {
		return fmt.Errorf("ReplicationConfigurationNotFound: source bucket %s has no enabled rule", src)
	}
	loc, err := api.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(j.dest)})
	if err != nil {
		return fmt.Errorf("destination bucket %s: %v", j.dest, err)
	}
	j.destRegion = string(loc.LocationConstraint)
	if j.destRegion == "" {
		j.destRegion = "us-east-1"
	}
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(src)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %v", src, err)
		}
		for _, o := range page.Contents {
			j.keys = append(j.keys, aws.ToString(o.Key))
		}
	}
	return nil
}

// replicate copies one key as the rule would; false is a failed task.
func (b *BatchJobs) replicate(ctx context.Context, j *SimJob, key string) bool {
	if b.fail != nil && b.fail(key) {
		return false
	}
	src := bucketOf(j.Request.ManifestGenerator.S3JobManifestGenerator.SourceBucket)
	_, err := b.s3(j.destRegion).CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(j.dest), Key: aws.String(key), CopySource: aws.String(src + "/" + url.PathEscape(key)),
		StorageClass: s3types.StorageClass(j.storageClass), MetadataDirective: s3types.MetadataDirectiveCopy,
	})
	return err == nil
}

// report writes the completion report's manifest where S3 puts it.
func (b *BatchJobs) report(ctx context.Context, j *SimJob) {
	r := j.Request.Report
	key := strings.TrimSuffix(r.Prefix, "/") + "/job-" + j.ID + "/manifest.json"
	body := fmt.Sprintf(`{"Format":"Report_CSV_20180820","ReportCreationDate":%q,"Results":[{"TaskExecutionStatus":"failed","Bucket":%q,"Key":"%s/job-%s/results/failed.csv"}]}`,
		time.Now().UTC().Format(time.RFC3339), bucketOf(r.Bucket), strings.TrimSuffix(r.Prefix, "/"), j.ID)
	if _, err := b.s3(j.Region).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucketOf(r.Bucket)), Key: aws.String(key), Body: strings.NewReader(body),
	}); err != nil {
		j.Status = "Failed"
		j.reasons = append(j.reasons, "report bucket "+bucketOf(r.Bucket)+": "+err.Error())
	}
}

func (b *BatchJobs) describe(ctx context.Context, account, region, id string) (jobXML, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok || j.Account != account || j.Region != region {
		return jobXML{}, false
	}
	b.step(ctx, j)
	return j.xml(), true
}

func (b *BatchJobs) list(w http.ResponseWriter, account, region string, statuses []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []jobXML
	for _, id := range b.order {
		j := b.jobs[id]
		if j.Account != account || j.Region != region {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, j.Status) {
			continue
		}
		x := j.xml()
		x.Operation = "S3ReplicateObject"
		x.ManifestGenerator, x.Report, x.RoleArn = nil, nil, ""
		out = append(out, x)
	}
	sort.SliceStable(out, func(a, c int) bool { return out[a].CreationTime > out[c].CreationTime })
	writeXML(w, struct {
		XMLName xml.Name `xml:"ListJobsResult"`
		Jobs    []jobXML `xml:"Jobs>member"`
	}{Jobs: out})
}

// jobXML is a JobDescriptor (and a JobListDescriptor) on the wire.
type jobXML struct {
	JobId, Description, Status string
	Operation                  string `xml:",omitempty"`
	RoleArn                    string `xml:",omitempty"`
	CreationTime               string
	Priority                   int
	ProgressSummary            struct {
		TotalNumberOfTasks, NumberOfTasksSucceeded, NumberOfTasksFailed int64
		Timers                                                          struct{ ElapsedTimeInActiveSeconds int64 }
	}
	FailureReasons    []failureXML `xml:"FailureReasons>member,omitempty"`
	ManifestGenerator *struct {
		S3JobManifestGenerator struct{ SourceBucket string }
	} `xml:",omitempty"`
	Report *struct {
		Bucket, Format, Prefix, ReportScope string
		Enabled                             bool
	} `xml:",omitempty"`
}

type failureXML struct{ FailureCode, FailureReason string }

func (j *SimJob) xml() jobXML {
	x := jobXML{JobId: j.ID, Description: j.Request.Description, Status: j.Status, RoleArn: j.Request.RoleArn,
		CreationTime: j.Created.UTC().Format(time.RFC3339Nano), Priority: *j.Request.Priority}
	x.ProgressSummary.TotalNumberOfTasks = int64(len(j.keys))
	x.ProgressSummary.NumberOfTasksSucceeded = int64(j.ok)
	x.ProgressSummary.NumberOfTasksFailed = int64(j.failed)
	x.ProgressSummary.Timers.ElapsedTimeInActiveSeconds = int64(60 * j.active)
	for _, r := range j.reasons {
		x.FailureReasons = append(x.FailureReasons, failureXML{FailureCode: "JobFailed", FailureReason: r})
	}
	x.ManifestGenerator = &struct {
		S3JobManifestGenerator struct{ SourceBucket string }
	}{}
	x.ManifestGenerator.S3JobManifestGenerator.SourceBucket = j.Request.ManifestGenerator.S3JobManifestGenerator.SourceBucket
	x.Report = j.Request.Report
	return x
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v)
}

func ctlError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct{ Code, Message string }
	}{Error: struct{ Code, Message string }{code, msg}})
}

// bucketOf returns the bucket of arn:<partition>:s3:::bucket.
func bucketOf(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
