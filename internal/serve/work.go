package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pilotlight/pilotlight/internal/secrets"
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

	// Databases and images. A run is one step of the resource's protect
	// job: JobPhase is where the job is after it, Pending that it is still
	// running in AWS (a copy takes hours; that is not a failure), Queued
	// that its copy waits for a slot in AWS's copy quota, JobStarted when
	// the job began.
	JobPhase   string    `json:"job_phase,omitempty"`
	Pending    bool      `json:"pending,omitempty"`
	Queued     bool      `json:"queued,omitempty"`
	JobStarted time.Time `json:"job_started,omitzero"`
	Engine     string    `json:"engine,omitempty"`
	// FollowUp: the run only advanced a running job (Trigger.FollowUp).
	FollowUp bool     `json:"follow_up,omitempty"`
	Created  string   `json:"created,omitempty"`
	Copied   string   `json:"copied,omitempty"`
	Resumed  string   `json:"resumed,omitempty"`
	Deleted  []string `json:"deleted,omitempty"`
	// CycleDuration is the protect job's time for the resource, from its
	// first step to the run that finished it: point, copy to the DR region
	// and prune.
	CycleDuration time.Duration `json:"cycle_duration_ns,omitempty"`
	// NewestDR is when the newest available DR point's data was taken.
	NewestDR   time.Time `json:"newest_dr,omitempty"`
	NewestDRID string    `json:"newest_dr_id,omitempty"`

	// Buckets.
	Verify *BucketStatus `json:"verify,omitempty"`
	// VerifyIncomplete: the verify ran out of time and left its position
	// in the state store; the next run continues from there. Verify is
	// then unset: the last complete verify stays the bucket's answer.
	VerifyIncomplete bool `json:"verify_incomplete,omitempty"`
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
	Run(ctx context.Context, job Job, trigger Trigger) Result
}

// Trigger is what started a run.
type Trigger struct {
	// Name is schedule or lambda.
	Name string
	// Tick names the schedule's fire time the run is for, equal on every
	// retry of it, so that a retried tick joins the protect job it started
	// instead of taking a second point (points.BackupOptions.Tick).
	Tick string
	// FollowUp: the run checks on a job left running by an earlier run
	// and starts no new one (points.BackupOptions.ContinueOnly).
	FollowUp bool
}

// LastKey is the state-store key of a resource's last run.
func LastKey(resource string) string { return operation.ServeLastKey(resource) }

// VerifyKey is the state-store key of a bucket's last verify result, which
// `status` reads.
func VerifyKey(bucket string) string { return operation.VerifyKey(bucket) }

// AWSRunner runs jobs against AWS: one points.Step for databases and
// images (it never waits for a copy: the next run checks on it), and
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
func (r *AWSRunner) Run(ctx context.Context, job Job, trigger Trigger) Result {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("stack", r.Cfg.Stack, "resource", job.Resource, "kind", job.Kind)
	res := Result{Resource: job.Resource, Kind: job.Kind, Trigger: trigger.Name, Started: now().UTC()}
	var err error
	switch job.Kind {
	case KindBucket:
		err = r.bucket(ctx, job, &res, log)
	default:
		res.FollowUp = trigger.FollowUp
		err = r.protect(ctx, job, trigger, &res, log, now)
	}
	res.Ended = now().UTC()
	if err != nil {
		res.Error = err.Error()
		res.Interrupted = ctx.Err() != nil
	}
	res.OK = err == nil
	return res
}

func (r *AWSRunner) protect(ctx context.Context, job Job, trigger Trigger, res *Result, log *slog.Logger, now func() time.Time) error {
	// Only a result with an error fails the run: a job still copying is
	// pending, and the next run advances it.
	rep, err := points.Step(ctx, r.Env, r.Cfg, points.BackupOptions{Only: []string{job.Resource}, Now: now, Log: log,
		Store: r.Store, Tick: trigger.Tick, ContinueOnly: trigger.FollowUp})
	if rep != nil && len(rep.Results) == 1 {
		x := rep.Results[0]
		res.Created, res.Copied, res.Resumed, res.Deleted, res.CycleDuration = x.Created, x.Copied, x.Resumed, x.Deleted, x.Duration
		res.JobPhase, res.Pending, res.Queued, res.JobStarted, res.Engine = string(x.Phase), x.InProgress, x.Queued, x.Since, x.Engine
		if x.Phase == points.PhaseDone && x.Copied != "" && !x.Since.IsZero() {
			// The job took several runs: its cycle is from its start
			// (on the same clock, opts.Now) to now.
			res.CycleDuration = max(res.CycleDuration, now().Sub(x.Since))
		}
	}
	// The app's secrets travel with its database: a rotated password in
	// the primary reaches the DR region at the next database run.
	if job.Kind == KindDatabase && len(secrets.Parameters(r.Cfg)) > 0 && ctx.Err() == nil {
		if _, serr := secrets.Sync(ctx, r.Env, r.Cfg); serr != nil {
			err = errors.Join(err, serr)
		}
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
	// With a store, a verify of a large bucket that runs out of time
	// (a Lambda's deadline) leaves its position there and the next run
	// continues; an incomplete result is not the bucket's verify result.
	opts := s3sync.VerifyOptions{Log: log}
	if r.Store != nil {
		opts.Checkpoint = r.Store
	}
	v, err := s3sync.VerifyWith(ctx, r.Env, r.Cfg, b, opts)
	if err != nil {
		return fmt.Errorf("verify %s -> %s: %w", b.Source, b.Replica, err)
	}
	if r.Store != nil && !v.Complete {
		res.VerifyIncomplete = true
		log.Info("verify ran out of time; the next run continues", "resume_after", v.ResumeAfter, "passes", v.Passes)
		return nil
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
