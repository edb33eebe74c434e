package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Backup runs one protect cycle and records one result per resource.
// The report is nil only when the cycle could not start.
func Backup(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, o points.BackupOptions) (*points.BackupReport, *Record, error) {
	return BackupWith(ctx, d, cfg, env, o, BackupWait{})
}

// BackupWait says how Backup waits for the protect jobs it steps.
type BackupWait struct {
	// NoWait runs one step of every job and returns: a copy still running
	// in AWS is reported pending, and the next backup (or serve tick)
	// advances it.
	NoWait bool
	// Progress, when set, sees the report of every step while Backup waits.
	Progress func(*points.BackupReport)
}

// BackupWith is Backup with a choice of waiting. With the state store
// (d.Store) every resource is a protect job stepped with its lease, copy
// quotas counted from AWS and every copy engine; without one (or for a dry
// run) it is points.Backup's cycle in this process.
func BackupWith(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, o points.BackupOptions, w BackupWait) (*points.BackupReport, *Record, error) {
	d.Stack = cfg.Stack
	if o.Log == nil {
		o.Log = d.Log
	}
	if o.Store == nil && !o.DryRun {
		o.Store = d.Store
	}
	var rep *points.BackupReport
	rec, err := Run(ctx, d, KindBackup, func(ctx context.Context, rec *Record) error {
		rec.DryRun = o.DryRun
		var err error
		switch {
		case o.Store != nil && w.NoWait:
			rep, err = points.Step(ctx, env, cfg, o)
		case o.Store != nil:
			rep, err = points.StepUntilDone(ctx, env, cfg, o, w.Progress)
		default:
			rep, err = points.Backup(ctx, env, cfg, o)
		}
		if rep == nil {
			return err
		}
		for _, r := range rep.Results {
			res := Result{Resource: r.Resource, Kind: string(r.Kind), Phase: PhaseCompleted, Error: r.Error,
				Seconds: r.Duration.Round(time.Millisecond).Seconds()}
			var did []string
			if r.Phase != "" && r.Phase != points.PhaseDone && r.Phase != points.PhaseFailed {
				// A job left running in AWS (backup --no-wait).
				res.Phase = PhaseInProgress
				did = append(did, string(r.Phase))
				if r.Queued {
					did = append(did, "queued for a copy slot")
				}
			}
			for _, kv := range [][2]string{{"created", r.Created}, {"resumed", r.Resumed}, {"copied", r.Copied}} {
				if kv[1] != "" {
					did = append(did, kv[0]+" "+kv[1])
				}
			}
			if len(r.Deleted) > 0 {
				did = append(did, fmt.Sprintf("deleted %d", len(r.Deleted)))
			}
			if r.Engine != "" && r.Engine != points.EngineSnapshotCopy {
				did = append(did, "engine "+r.Engine)
			}
			res.Detail = strings.Join(did, ", ")
			if r.Error != "" {
				res.Phase = PhaseFailed
			}
			rec.Results = append(rec.Results, res)
		}
		// The app's secrets travel with a whole cycle: a rotated password
		// in the primary reaches the DR region at the next one.
		if !o.DryRun && len(o.Only) == 0 && len(secrets.Parameters(cfg)) > 0 {
			copied, serr := secrets.Sync(ctx, env, cfg)
			for _, c := range copied {
				detail := fmt.Sprintf("version %d in %s", c.Version, cfg.DR.Region)
				if c.Changed {
					detail = "copied " + detail
				}
				rec.Results = append(rec.Results, Result{Resource: c.Name, Kind: "parameter", Phase: PhaseCompleted, Detail: detail})
			}
			if serr != nil {
				rec.Results = append(rec.Results, Result{Resource: "parameters", Kind: "parameter", Phase: PhaseFailed, Error: serr.Error()})
				err = errors.Join(err, serr)
			}
		}
		return err
	})
	return rep, rec, err
}

// Prepare builds what must exist in the DR region before a disaster,
// under the stack's lock, and records each change.
func Prepare(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env) (*recovery.PrepareResult, *Record, error) {
	return prepare(ctx, d, cfg, env, false)
}

// PrepareDryRun changes nothing and records, as a dry-run operation, what
// Prepare would change.
func PrepareDryRun(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env) (*recovery.PrepareResult, *Record, error) {
	return prepare(ctx, d, cfg, env, true)
}

func prepare(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, dryRun bool) (*recovery.PrepareResult, *Record, error) {
	d.Stack = cfg.Stack
	var res *recovery.PrepareResult
	rec, err := Run(ctx, d, KindPrepare, func(ctx context.Context, rec *Record) error {
		var err error
		rec.DryRun = dryRun
		if dryRun {
			res, err = recovery.PrepareDryRun(ctx, cfg, env)
		} else {
			res, err = recovery.Prepare(ctx, cfg, env)
		}
		if res == nil {
			return err
		}
		if err == nil {
			var vaults []string
			vaults, err = points.PrepareVaults(ctx, env, cfg, dryRun)
			res.Changes = append(res.Changes, vaults...)
		}
		rec.Results = append(rec.Results, Result{Resource: res.Region + "/network", Kind: "network", Phase: PhaseCompleted, Detail: res.Network.VPC})
		for _, c := range res.Changes {
			rec.Results = append(rec.Results, Result{Resource: c, Kind: "change", Phase: PhaseCompleted})
		}
		for _, m := range res.Missing {
			rec.Results = append(rec.Results, Result{Resource: m, Kind: "missing", Phase: PhaseFailed, Error: "missing"})
		}
		if err != nil {
			rec.Phase = PhaseFailed
		}
		return err
	})
	return res, rec, err
}

// eachBucket runs one replicate verb over buckets under one record: one
// failing bucket does not stop the others. It returns what each bucket
// gave and each bucket's error (nil where it succeeded), in bucket order.
func eachBucket[T any](ctx context.Context, d Deps, kind Kind, buckets []spec.Bucket, dryRun bool,
	fn func(context.Context, spec.Bucket) (T, string, error)) ([]T, []error, *Record) {
	out := make([]T, len(buckets))
	errs := make([]error, len(buckets))
	rec, _ := Run(ctx, d, kind, func(ctx context.Context, rec *Record) error {
		rec.DryRun = dryRun
		for i, b := range buckets {
			start := time.Now()
			v, detail, err := fn(ctx, b)
			out[i], errs[i] = v, err
			res := Result{Resource: b.Name, Kind: "bucket", Phase: PhaseCompleted, Detail: detail,
				Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
			if err != nil {
				res.Phase, res.Error = PhaseFailed, err.Error()
			}
			rec.Results = append(rec.Results, res)
		}
		return errors.Join(errs...)
	})
	return out, errs, rec
}

// ReplicateSetup sets up replication of each bucket. A bucket that failed
// has a nil result.
func ReplicateSetup(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, buckets []spec.Bucket, dryRun bool) ([]*s3sync.SetupResult, []error, *Record) {
	d.Stack = cfg.Stack
	return eachBucket(ctx, d, KindReplicateSetup, buckets, dryRun, func(ctx context.Context, b spec.Bucket) (*s3sync.SetupResult, string, error) {
		res, err := s3sync.Setup(ctx, env, cfg, b, dryRun)
		if res == nil {
			return nil, "", err
		}
		detail := strings.Join(res.Changed, "; ")
		if res.Unchanged {
			detail = "already set up"
		}
		return res, detail, err
	})
}

// ReplicateSync back-fills each bucket's replica. A bucket's result may be
// set even when it failed (some copies failed).
func ReplicateSync(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, buckets []spec.Bucket, o s3sync.SyncOptions) ([]*s3sync.SyncResult, []error, *Record) {
	d.Stack = cfg.Stack
	if o.Log == nil {
		o.Log = d.Log
	}
	return eachBucket(ctx, d, KindReplicateSync, buckets, o.DryRun, func(ctx context.Context, b spec.Bucket) (*s3sync.SyncResult, string, error) {
		res, err := s3sync.Sync(ctx, env, cfg, b, o)
		if res == nil {
			return nil, "", err
		}
		return res, fmt.Sprintf("copied %d, skipped %d, deleted %d, failed %d", res.Copied, res.Skipped, res.Deleted, res.Failed), err
	})
}

// ReplicateBatch records the S3 Batch Replication jobs a sync starts as a
// replicate-sync operation, one result per bucket naming its job, so that
// `runs` shows them beside the copy engine's syncs. start makes (or, in a
// dry run, describes) one bucket's job.
func ReplicateBatch(ctx context.Context, d Deps, cfg *spec.Config, buckets []spec.Bucket, dryRun bool,
	start func(context.Context, spec.Bucket) (*s3sync.BatchJob, error)) ([]*s3sync.BatchJob, []error, *Record) {
	d.Stack = cfg.Stack
	return eachBucket(ctx, d, KindReplicateSync, buckets, dryRun, func(ctx context.Context, b spec.Bucket) (*s3sync.BatchJob, string, error) {
		j, err := start(ctx, b)
		if j == nil {
			return nil, "", err
		}
		detail := "batch replication job " + j.JobID + " started, report to " + j.Report
		switch {
		case j.JobID == "":
			detail = "would start a batch replication job, report to " + j.Report
		case j.Joined:
			detail = "batch replication job " + j.JobID + " still " + j.Status + ": none started"
		}
		return j, detail, err
	})
}

// ReplicateVerify compares each bucket with its replica and keeps the
// result at VerifyKey for status, readiness and serve. A bucket that has
// not converged is a failed result.
func ReplicateVerify(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, buckets []spec.Bucket, o s3sync.VerifyOptions) ([]*s3sync.VerifyResult, []error, *Record) {
	d.Stack = cfg.Stack
	if o.Log == nil {
		o.Log = d.Log
	}
	return eachBucket(ctx, d, KindReplicateVerify, buckets, false, func(ctx context.Context, b spec.Bucket) (*s3sync.VerifyResult, string, error) {
		res, err := s3sync.VerifyWith(ctx, env, cfg, b, o)
		if err != nil {
			return nil, "", err
		}
		RecordVerify(ctx, d, b.Name, res)
		detail := fmt.Sprintf("%d missing, %d different, %d extra", res.MissingCount, res.DifferentCount, res.ExtraCount)
		if !res.Converged {
			return res, detail, fmt.Errorf("%s (%s) and %s (%s) have not converged: %s",
				res.Source, res.SourceRegion, res.Replica, res.ReplicaRegion, detail)
		}
		return res, "converged: " + detail, nil
	})
}

// RecordVerify keeps a bucket's verify result where status, readiness and
// serve read it; failing to is logged, as the verify already answered.
func RecordVerify(ctx context.Context, d Deps, bucket string, res *s3sync.VerifyResult) {
	if d.Store == nil {
		return
	}
	data, err := json.Marshal(res)
	if err == nil {
		err = d.Store.Put(context.WithoutCancel(ctx), VerifyKey(bucket), data)
	}
	if err != nil {
		d.log().Warn("verify result not recorded", "key", VerifyKey(bucket), "err", err)
	}
}
