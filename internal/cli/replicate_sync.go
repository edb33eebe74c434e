package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// replicateSyncOptions are `replicate sync`'s flags.
type replicateSyncOptions struct {
	Only    string
	DryRun  bool
	Workers int
	// MaxWorkers caps the adaptive pool (Workers 0).
	MaxWorkers int
	Delete     bool

	// Engine is copy, batch or auto (s3sync.Engine*).
	Engine string
	// BatchThreshold is the object count from which auto picks batch.
	BatchThreshold int64
	// Account, BatchRole and ReportBucket describe batch jobs; the account
	// and role default to the caller's and the role setup makes.
	Account, BatchRole, ReportBucket string

	// RestoreDays > 0 restores archived objects (--restore-archived[=days]).
	RestoreDays int
	RestoreTier string
}

func newReplicateSyncCmd(app *App, only *string) *cobra.Command {
	var opts replicateSyncOptions
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Back-fill the replica: server-side copies from here, or an S3 Batch Replication job",
		Long: `sync back-fills each replica with what CRR does not copy: objects older
than the rule and failed replications.

  --engine copy   lists both buckets and copies what is missing or different
                  from this process (server-side copies; an interrupted sync
                  resumes when run again).
  --engine batch  creates an S3 Batch Operations replication job in the
                  primary region: S3 generates the manifest of objects never
                  replicated or whose replication FAILED (S3 never retries
                  those itself), replicates them with the bucket's rule, and
                  writes a report of failed tasks to --report-bucket. The job
                  assumes <stack>-s3-batch-replication (replicate setup makes
                  it). Follow it with 'replicate status'.
  --engine auto   batch for buckets of --batch-threshold objects or more by
                  S3's daily NumberOfObjects metric, copy otherwise (and when
                  S3 has published no count yet).

Objects in Glacier Flexible Retrieval or Deep Archive cannot be copied
before a restore: they are reported and skipped, or, with
--restore-archived[=days], restored (Bulk tier unless --restore-tier) and
copied by a later sync once S3 has restored them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Only = *only
			return runReplicateSync(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Workers, "workers", 0, "copies in flight; 0 adapts: grows while throughput grows, backs off on SlowDown and rising latency")
	f.IntVar(&opts.MaxWorkers, "max-workers", 0, "with --workers 0: the most copies in flight (default s3sync.DefaultMaxWorkers)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "list and compare, copy, delete, restore and start nothing")
	f.BoolVar(&opts.Delete, "delete", false, "delete replica keys the source does not have")
	f.StringVar(&opts.Engine, "engine", s3sync.EngineCopy, "copy (from this process), batch (an S3 Batch Replication job) or auto")
	f.Int64Var(&opts.BatchThreshold, "batch-threshold", s3sync.DefaultBatchThreshold, "with --engine auto: the object count from which batch is used")
	f.StringVar(&opts.Account, "account", "", "batch: the account that owns the source buckets (default: the caller's)")
	f.StringVar(&opts.BatchRole, "batch-role", "", "batch: the role S3 Batch Operations assumes (default: <stack>-s3-batch-replication)")
	f.StringVar(&opts.ReportBucket, "report-bucket", "", "batch: bucket in the primary region for completion reports (under "+s3sync.DefaultReportPrefix+"/)")
	f.IntVar(&opts.RestoreDays, "restore-archived", 0, "restore Glacier/Deep Archive objects, keeping each restored copy this many days; copied by a later sync")
	f.Lookup("restore-archived").NoOptDefVal = strconv.Itoa(s3sync.DefaultRestoreDays)
	f.StringVar(&opts.RestoreTier, "restore-tier", s3sync.TierBulk, "with --restore-archived: Bulk, Standard or Expedited")
	return cmd
}

// engineChoice is which engine back-fills a bucket, and why.
type engineChoice struct {
	Bucket  string `json:"bucket"`
	Engine  string `json:"engine"`
	Objects int64  `json:"objects"` // by S3's metric; -1 unknown or not read
	Why     string `json:"why"`
}

// replicateSyncResults is sync's JSON: the copy engine's results under
// "buckets", as before engines, and the batch jobs it started.
type replicateSyncResults struct {
	Buckets   []*s3sync.SyncResult `json:"buckets"`
	BatchJobs []*s3sync.BatchJob   `json:"batch_jobs,omitempty"`
	Engines   []engineChoice       `json:"engines"`
	Errors    []string             `json:"errors,omitempty"`
}

func (o replicateSyncOptions) check() error {
	if o.Workers < 0 || o.MaxWorkers < 0 {
		return fmt.Errorf("--workers and --max-workers must be 0 (adaptive) or more, not %d and %d", o.Workers, o.MaxWorkers)
	}
	if _, err := s3sync.ChooseEngine(o.Engine, -1, 1); err != nil {
		return fmt.Errorf("--engine: %w", err)
	}
	if o.RestoreDays < 0 {
		return fmt.Errorf("--restore-archived: days must be 1 or more, not %d", o.RestoreDays)
	}
	if o.RestoreDays > 0 {
		r := s3sync.RestoreOptions{Days: o.RestoreDays, Tier: o.RestoreTier}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("--restore-archived: %w", err)
		}
	}
	if o.Engine == s3sync.EngineBatch && o.ReportBucket == "" {
		return errors.New("--engine batch needs --report-bucket: a bucket in the primary region for the job's completion report")
	}
	if o.Engine == s3sync.EngineBatch {
		return batchRefuses(o)
	}
	return nil
}

// batchRefuses names the sync flags a batch job cannot honour: it never
// deletes replica keys, and restoring archived objects is the copy
// engine's (a restore must finish before anything can copy them).
func batchRefuses(o replicateSyncOptions) error {
	switch {
	case o.Delete:
		return errors.New("--delete: a batch replication job never deletes replica keys; use --engine copy")
	case o.RestoreDays > 0:
		return errors.New("--restore-archived: restores are the copy engine's; use --engine copy")
	}
	return nil
}

func runReplicateSync(ctx context.Context, app *App, opts replicateSyncOptions) error {
	if err := opts.check(); err != nil {
		return Exit(ExitUsage, err)
	}
	job, err := app.replicateJob(ctx, opts.Only)
	if err != nil {
		return err
	}
	defer job.close()
	out := replicateSyncResults{Buckets: []*s3sync.SyncResult{}}
	var errs []error
	var copies, batches []spec.Bucket
	for _, b := range job.buckets {
		c, err := chooseEngine(ctx, app, job, opts, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Engines = append(out.Engines, c)
		if c.Engine == s3sync.EngineCopy {
			copies = append(copies, b)
			continue
		}
		batches = append(batches, b)
	}
	if len(batches) > 0 {
		jobs, berrs, _ := operation.ReplicateBatch(ctx, job.deps, job.cfg, batches, opts.DryRun,
			func(ctx context.Context, b spec.Bucket) (*s3sync.BatchJob, error) {
				return startBatch(ctx, job, opts, b)
			})
		for _, j := range jobs {
			if j != nil {
				out.BatchJobs = append(out.BatchJobs, j)
			}
		}
		for _, err := range berrs {
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(copies) > 0 {
		var progress io.Writer
		if !app.JSON() && replicateTTY(app.Stderr) {
			progress = app.Stderr
		}
		so := s3sync.SyncOptions{Workers: opts.Workers, MaxWorkers: opts.MaxWorkers, DryRun: opts.DryRun, Delete: opts.Delete,
			Progress: progress, Log: app.Log}
		if opts.RestoreDays > 0 {
			so.Restore = &s3sync.RestoreOptions{Days: opts.RestoreDays, Tier: opts.RestoreTier}
		}
		res, cerrs, _ := operation.ReplicateSync(ctx, job.deps, job.cfg, job.env, copies, so)
		out.Buckets = nonNil(res)
		errs = append(errs, cerrs...)
	}
	out.Errors = errTexts(errs)
	perr := app.Print(out, func(w io.Writer) {
		for _, c := range out.Engines {
			if c.Engine != opts.Engine {
				fmt.Fprintf(w, "%s: engine %s (%s)\n", c.Bucket, c.Engine, c.Why)
			}
		}
		for _, j := range out.BatchJobs {
			if j.JobID == "" {
				fmt.Fprintf(w, "%s (%s): would start an S3 Batch Replication job, report to %s\n", j.Source, j.Region, j.Report)
				continue
			}
			verb := "started S3 Batch Replication job " + j.JobID
			if j.Joined {
				verb = "S3 Batch Replication job " + j.JobID + " is still " + j.Status + ": not starting another"
			}
			fmt.Fprintf(w, "%s (%s): %s, report to %s\n  follow it: pilotlight replicate status --job %s\n",
				j.Source, j.Region, verb, j.Report, j.JobID)
		}
		for _, r := range out.Buckets {
			printSync(w, r)
		}
	})
	return Exit(ExitFailed, errors.Join(append(errs, perr)...))
}

// chooseEngine resolves --engine for b; auto reads S3's object count.
func chooseEngine(ctx context.Context, app *App, job *replicateJob, opts replicateSyncOptions, b spec.Bucket) (engineChoice, error) {
	c := engineChoice{Bucket: b.Name, Objects: -1, Why: "asked for"}
	if opts.Engine == s3sync.EngineAuto {
		n, err := s3sync.ObjectCount(ctx, job.env, job.cfg.Primary.Region, b.Source)
		if err != nil {
			// Unknown count: the copy engine needs nothing but the buckets.
			app.Log.Warn("object count unknown; using the copy engine", "bucket", b.Source, "region", job.cfg.Primary.Region, "err", err)
		}
		c.Objects = n
	}
	e, err := s3sync.ChooseEngine(opts.Engine, c.Objects, opts.BatchThreshold)
	if err != nil {
		return c, Exit(ExitUsage, err)
	}
	c.Engine = e
	switch {
	case opts.Engine != s3sync.EngineAuto:
	case c.Objects < 0:
		c.Why = "S3 has published no object count for " + b.Source + " yet"
	case e == s3sync.EngineBatch:
		c.Why = fmt.Sprintf("%d objects by S3's daily count, at or above %d", c.Objects, opts.BatchThreshold)
	default:
		c.Why = fmt.Sprintf("%d objects by S3's daily count, below %d", c.Objects, opts.BatchThreshold)
	}
	if e == s3sync.EngineBatch && opts.ReportBucket == "" {
		return c, Exit(ExitUsage, fmt.Errorf("bucket %s: engine batch (%s) needs --report-bucket", b.Name, c.Why))
	}
	if e == s3sync.EngineBatch {
		if err := batchRefuses(opts); err != nil {
			return c, Exit(ExitUsage, fmt.Errorf("bucket %s: engine batch (%s): %w", b.Name, c.Why, err))
		}
	}
	return c, nil
}

// startBatch creates b's batch replication job; a dry run returns the job
// it would create, without an id.
func startBatch(ctx context.Context, job *replicateJob, opts replicateSyncOptions, b spec.Bucket) (*s3sync.BatchJob, error) {
	region := job.cfg.Primary.Region
	account := opts.Account
	if account == "" {
		a, err := job.env.Account(ctx, region)
		if err != nil {
			return nil, Exit(ExitFailed, err)
		}
		account = a
	}
	role := opts.BatchRole
	if role == "" {
		p, err := partition.Of(region)
		if err != nil {
			return nil, Exit(ExitUsage, err)
		}
		role = p.ARN("iam", "", account, "role/"+s3sync.BatchRoleName(job.cfg.Stack))
	}
	if opts.DryRun {
		return &s3sync.BatchJob{Account: account, Region: region, Source: b.Source,
			Report: "s3://" + opts.ReportBucket + "/" + s3sync.DefaultReportPrefix}, nil
	}
	return s3sync.StartBatchReplication(ctx, job.env, job.cfg, b, s3sync.BatchOptions{
		Account: account, RoleARN: role, ReportBucket: opts.ReportBucket, ReportPrefix: s3sync.DefaultReportPrefix,
	})
}

// printSync prints one copy engine's result.
func printSync(w io.Writer, r *s3sync.SyncResult) {
	verb := "copied"
	if r.DryRun {
		verb = "would copy"
	}
	secs := max(r.Duration.Seconds(), 1e-9)
	fmt.Fprintf(w, "%s -> %s: %s %d objects (%s), skipped %d already equal (compared by %s), in %s: %.0f objects/s, %.1f MB/s\n",
		r.Source, r.Dest, verb, r.Copied, replicateBytes(r.Bytes), r.Skipped, r.Compared,
		r.Duration.Round(time.Millisecond), float64(r.Copied)/secs, float64(r.Bytes)/1e6/secs)
	switch {
	case r.Deleted > 0 && r.DryRun:
		fmt.Fprintf(w, "  would delete %d replica-only keys\n", r.Deleted)
	case r.Deleted > 0:
		fmt.Fprintf(w, "  deleted %d replica-only keys\n", r.Deleted)
	case r.Extra > 0:
		fmt.Fprintf(w, "  %d replica-only keys kept (--delete removes them)\n", r.Extra)
	}
	if rs := r.Restore; rs != nil {
		fmt.Fprintf(w, "  archived: %d restored and copied, %d restores requested (%s tier, kept %d days), %d still being restored",
			rs.Copied, rs.Requested, rs.Tier, rs.Days, rs.InProgress)
		if rs.Requested+rs.InProgress > 0 {
			fmt.Fprint(w, ": sync again once S3 has restored them")
		}
		fmt.Fprintln(w)
		if rs.Failed > 0 {
			fmt.Fprintf(w, "  %d restores could not be requested; a re-run tries again. First: %s\n", rs.Failed, rs.Errors[0])
		}
	} else if r.Archived > 0 {
		fmt.Fprintf(w, "  %d archived objects (Glacier, Deep Archive) skipped: --restore-archived restores them\n", r.Archived)
	}
	if r.Failed > 0 {
		fmt.Fprintf(w, "  %d failed; a re-run retries them. First errors:\n", r.Failed)
		for _, e := range r.Errors[:min(len(r.Errors), 5)] {
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
}
