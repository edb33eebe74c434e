package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Result is one run of one job, as recorded in the state store under
// LastKey(resource) and shown by /metrics and the status page.
type Result struct {
	Resource string    `json:"resource"`
	Kind     string    `json:"kind"`
	Trigger  string    `json:"trigger"` // schedule or lambda
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	// Interrupted: shutdown or a deadline cut the run short. Work already
	// started (a snapshot, a copy) is named below and finished by the
	// next run: points resumes an unfinished point instead of taking another.
	Interrupted bool `json:"interrupted,omitempty"`
	// ConsecutiveFailures counts this run and the failed runs right before
	// it (0 for a success), from the last run kept in the state store; the
	// failure alarm fires on two.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`

	// Databases and images.
	Created string   `json:"created,omitempty"`
	Copied  string   `json:"copied,omitempty"`
	Resumed string   `json:"resumed,omitempty"`
	Deleted []string `json:"deleted,omitempty"`
	// CycleDuration is points' own time for the resource: point, copy to
	// the DR region and prune.
	CycleDuration time.Duration `json:"cycle_duration_ns,omitempty"`
	// NewestDR is when the newest available DR point's data was taken.
	NewestDR   time.Time `json:"newest_dr,omitempty"`
	NewestDRID string    `json:"newest_dr_id,omitempty"`

	// Buckets.
	Verify *BucketStatus `json:"verify,omitempty"`
	// Synced counts objects the run back-filled because verify found
	// them missing or different.
	Synced int64 `json:"synced,omitempty"`
}

// BucketStatus is the part of a verify result the metrics show.
type BucketStatus struct {
	Converged bool  `json:"converged"`
	Missing   int64 `json:"missing"`
	Different int64 `json:"different"`
	Pending   int64 `json:"pending"`
	Failed    int64 `json:"failed"`
	// Lag is how long the oldest object still pending replication has waited.
	Lag time.Duration `json:"lag_ns"`
}

// Runner does one run of one job. It never returns an error: failures
// are in the Result, so that one failing resource never stops the others.
type Runner interface {
	Run(ctx context.Context, job Job, trigger string) Result
}

// LastKey is the state-store key of a resource's last run.
func LastKey(resource string) string { return operation.ServeLastKey(resource) }

// VerifyKey is the state-store key of a bucket's last verify result, which
// `status` reads.
func VerifyKey(bucket string) string { return operation.VerifyKey(bucket) }

// AWSRunner runs jobs against AWS: points.Backup for databases and images,
// s3sync.Verify (and Sync of what is missing) for buckets.
type AWSRunner struct {
	Env *awsenv.Env
	Cfg *spec.Config
	// Store, when set, receives every verify result at VerifyKey.
	Store state.Store
	Log   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run implements Runner.
func (r *AWSRunner) Run(ctx context.Context, job Job, trigger string) Result {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("stack", r.Cfg.Stack, "resource", job.Resource, "kind", job.Kind)
	res := Result{Resource: job.Resource, Kind: job.Kind, Trigger: trigger, Started: now().UTC()}
	var err error
	switch job.Kind {
	case KindBucket:
		err = r.bucket(ctx, job, &res, log)
	default:
		err = r.protect(ctx, job, &res, log, now)
	}
	res.Ended = now().UTC()
	if err != nil {
		res.Error = err.Error()
		res.Interrupted = ctx.Err() != nil
	}
	res.OK = err == nil
	return res
}

func (r *AWSRunner) protect(ctx context.Context, job Job, res *Result, log *slog.Logger, now func() time.Time) error {
	rep, err := points.Backup(ctx, r.Env, r.Cfg, points.BackupOptions{Only: []string{job.Resource}, Now: now, Log: log})
	if rep != nil && len(rep.Results) == 1 {
		x := rep.Results[0]
		res.Created, res.Copied, res.Resumed, res.Deleted, res.CycleDuration = x.Created, x.Copied, x.Resumed, x.Deleted, x.Duration
	}
	// The newest DR point is read whatever happened: a failed run leaves
	// the previous point in place, and its age is what the RPO is about.
	// A cancelled ctx would fail the read; the gauge keeps its last value.
	if ctx.Err() == nil {
		if p, nerr := points.NewestDR(ctx, r.Env, r.Cfg, job.Resource); nerr == nil {
			res.NewestDR, res.NewestDRID = p.Created.UTC(), p.ID
		} else if !errors.Is(nerr, points.ErrNotFound) {
			log.Warn("newest DR point not read", "error", nerr)
		}
	}
	return err
}

func (r *AWSRunner) bucket(ctx context.Context, job Job, res *Result, log *slog.Logger) error {
	b, ok := r.Cfg.Bucket(job.Resource)
	if !ok {
		return fmt.Errorf("bucket %q is not in the config", job.Resource)
	}
	v, err := s3sync.Verify(ctx, r.Env, r.Cfg, b)
	if err != nil {
		return fmt.Errorf("verify %s -> %s: %w", b.Source, b.Replica, err)
	}
	if v.MissingCount+v.DifferentCount > 0 {
		// Replication missed objects (or they predate the rule): copy
		// them now rather than wait for a human to run `replicate sync`.
		s, err := s3sync.Sync(ctx, r.Env, r.Cfg, b, s3sync.SyncOptions{Log: log})
		if s != nil {
			res.Synced = s.Copied
		}
		if err != nil {
			r.record(ctx, b.Name, v, log)
			res.Verify = bucketStatus(v)
			return fmt.Errorf("sync %s -> %s: %w", b.Source, b.Replica, err)
		}
		if s.Copied > 0 {
			if v2, err := s3sync.Verify(ctx, r.Env, r.Cfg, b); err == nil {
				v = v2
			} else {
				log.Warn("verify after sync failed; keeping the first result", "error", err)
			}
		}
	}
	r.record(ctx, b.Name, v, log)
	res.Verify = bucketStatus(v)
	return nil
}

func bucketStatus(v *s3sync.VerifyResult) *BucketStatus {
	return &BucketStatus{Converged: v.Converged, Missing: v.MissingCount, Different: v.DifferentCount,
		Pending: v.Pending, Failed: v.Failed, Lag: v.OldestPending}
}

func (r *AWSRunner) record(ctx context.Context, bucket string, v *s3sync.VerifyResult, log *slog.Logger) {
	if r.Store == nil {
		return
	}
	data, err := json.Marshal(v)
	if err == nil {
		err = r.Store.Put(context.WithoutCancel(ctx), VerifyKey(bucket), data)
	}
	if err != nil {
		log.Warn("verify result not recorded", "key", VerifyKey(bucket), "error", err)
	}
}
