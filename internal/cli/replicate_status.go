package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/s3sync"
)

// replicateStatusOptions are `replicate status`'s flags.
type replicateStatusOptions struct {
	Only    string
	JobID   string
	Account string
	// Wait follows the job until it ends, polling with backoff from Poll.
	Wait bool
	Poll time.Duration
}

func newReplicateStatusCmd(app *App, only *string) *cobra.Command {
	var opts replicateStatusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Follow S3 Batch Replication jobs: progress, failed tasks, report",
		Long: `status reads a batch replication job that 'replicate sync --engine batch'
started: its state (New, Preparing, Active, Complete, Failed, Cancelled),
tasks succeeded and failed of the total, and where its report of failed
tasks is. Without --job it shows each bucket's newest such job (S3 keeps
jobs for 90 days). --wait polls until the jobs end, backing off to a
minute (S3 updates progress about that often).

Exit 0 when every job shown is running or complete with no failed task;
1 when one failed, was cancelled, or has failed tasks (its report names
them; a new 'replicate sync --engine batch' retries them).`,
		Example: `  pilotlight replicate status
  pilotlight replicate status --job 5f2c1c1e-… --wait -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Only = *only
			return runReplicateStatus(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.JobID, "job", "", "the job id sync printed (default: each bucket's newest job)")
	f.StringVar(&opts.Account, "account", "", "the account that owns the jobs (default: the caller's)")
	f.BoolVar(&opts.Wait, "wait", false, "poll until every job has ended")
	f.DurationVar(&opts.Poll, "poll", 5*time.Second, "with --wait: the first wait between readings; it doubles up to a minute")
	return cmd
}

// replicateStatusResult is one bucket's (or one --job's) batch job.
type replicateStatusResult struct {
	Bucket string           `json:"bucket,omitempty"`
	Source string           `json:"source"`
	Job    *s3sync.BatchJob `json:"job"` // null: no job for the bucket
}

func runReplicateStatus(ctx context.Context, app *App, opts replicateStatusOptions) error {
	if opts.Poll <= 0 {
		return Exit(ExitUsage, fmt.Errorf("--poll must be above 0, not %s", opts.Poll))
	}
	job, err := app.replicateJob(ctx, opts.Only)
	if err != nil {
		return err
	}
	defer job.close()
	region := job.cfg.Primary.Region
	account := opts.Account
	if account == "" {
		if account, err = job.env.Account(ctx, region); err != nil {
			return Exit(ExitFailed, err)
		}
	}
	var out []replicateStatusResult
	var errs []error
	if opts.JobID != "" {
		j, err := s3sync.BatchStatus(ctx, job.env, region, account, opts.JobID)
		if err != nil {
			return Exit(ExitFailed, err)
		}
		out = append(out, replicateStatusResult{Source: j.Source, Job: j})
	} else {
		for _, b := range job.buckets {
			j, err := s3sync.LatestBatchJob(ctx, job.env, region, account, b.Source)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, replicateStatusResult{Bucket: b.Name, Source: b.Source, Job: j})
		}
	}
	if opts.Wait {
		for i, r := range out {
			if r.Job == nil || r.Job.Done {
				continue
			}
			j, err := s3sync.WaitBatch(ctx, job.env, region, account, r.Job.JobID, job.env.Poll(opts.Poll), func(j *s3sync.BatchJob) {
				app.Log.Info("batch replication job", "job", j.JobID, "source", j.Source, "region", region, "status", j.Status,
					"succeeded", j.Succeeded, "failed", j.Failed, "total", j.Total)
			})
			if j != nil {
				out[i].Job = j
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range out {
		if j := r.Job; j != nil && j.Done && (j.Status != "Complete" || j.Failed > 0) {
			errs = append(errs, fmt.Errorf("batch job %s for %s (%s): %s with %d failed tasks of %d (report %s)",
				j.JobID, j.Source, region, j.Status, j.Failed, j.Total, j.Report))
		}
	}
	res := replicateResults[replicateStatusResult]{Buckets: out, Errors: errTexts(errs)}
	if res.Buckets == nil {
		res.Buckets = []replicateStatusResult{}
	}
	perr := app.Print(res, func(w io.Writer) {
		for _, r := range out {
			j := r.Job
			if j == nil {
				fmt.Fprintf(w, "%s (%s): no batch replication job in the last 90 days\n", r.Source, region)
				continue
			}
			fmt.Fprintf(w, "%s (%s): job %s %s: %d of %d tasks succeeded, %d failed", j.Source, region, j.JobID, j.Status, j.Succeeded, j.Total, j.Failed)
			if j.Duration != "" {
				fmt.Fprintf(w, ", active %s", j.Duration)
			}
			fmt.Fprintln(w)
			if j.Report != "" {
				fmt.Fprintf(w, "  report of failed tasks: %s\n", j.Report)
			}
			for _, why := range j.Reasons {
				fmt.Fprintf(w, "  %s\n", why)
			}
		}
	})
	return Exit(ExitFailed, errors.Join(append(errs, perr)...))
}
