package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newReplicateCmd) }

// replicateOptions are the flags of replicate setup and verify; sync and
// status have their own (replicate_sync.go, replicate_status.go).
type replicateOptions struct {
	Only   string
	DryRun bool
}

func newReplicateCmd(app *App) *cobra.Command {
	var opts replicateOptions
	cmd := &cobra.Command{
		Use:   "replicate",
		Short: "Set up S3 Cross-Region Replication, back-fill the replica, verify both sides",
		Long: `replicate keeps each protected bucket's replica in the DR region complete.

  setup   versioning on both buckets, the replica bucket (create_replica), the
          replication role <stack>-s3-replication with a least-privilege policy,
          the replication rule, and the role S3 Batch Operations assumes for
          batch back-fills (<stack>-s3-batch-replication). A second run changes
          nothing and says so.
  sync    copies, server-side, what CRR does not: objects older than the rule
          and failed replications. Re-running copies only what is missing or
          different, so an interrupted sync resumes. --engine batch hands the
          back-fill to an S3 Batch Replication job instead (buckets too large
          to list from one machine); auto picks it above --batch-threshold
          objects. --restore-archived restores Glacier/Deep Archive objects
          and copies them on a later run.
  status  follows a batch replication job: progress, failed tasks, report.
  verify  compares both listings: missing, extra and different keys, and the
          replication status (PENDING, FAILED, oldest pending age) of the keys
          that are not in sync. With an S3 Inventory of the whole source
          bucket (CSV, at most 8 days old) it reads the inventory instead of
          listing the source (--source-list). Exit 0 when converged, 1 when not.`,
		Example: `  pilotlight replicate setup --dry-run
  pilotlight replicate sync --workers 256
  pilotlight replicate sync --engine batch --report-bucket wp-reports
  pilotlight replicate status --wait
  pilotlight replicate sync --restore-archived --restore-tier Standard
  pilotlight replicate verify --only media -o json`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&opts.Only, "only", "", "only the bucket with this name (protect.buckets[].name)")

	setup := &cobra.Command{
		Use:   "setup",
		Short: "Enable versioning, create the replica and role, put the replication rule",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runReplicateSetup(cmd.Context(), app, opts) },
	}
	setup.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would change and change nothing")

	cmd.AddCommand(setup, newReplicateSyncCmd(app, &opts.Only), newReplicateVerifyCmd(app, &opts.Only), newReplicateStatusCmd(app, &opts.Only))
	return cmd
}

// replicateBuckets loads the config and picks the buckets to work on.
func replicateBuckets(app *App, only string) (*spec.Config, []spec.Bucket, error) {
	cfg, err := app.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Protect.Buckets) == 0 {
		return nil, nil, Exit(ExitUsage, fmt.Errorf("%s: protect.buckets is empty: nothing to replicate", app.ConfigPath))
	}
	var names []string
	if only != "" {
		names = []string{only}
	}
	names, err = cfg.Select(names, spec.KindBuckets)
	if err != nil {
		return nil, nil, Exit(ExitUsage, err)
	}
	buckets := make([]spec.Bucket, 0, len(names))
	for _, n := range names {
		b, _ := cfg.Bucket(n)
		buckets = append(buckets, b)
	}
	return cfg, buckets, nil
}

// replicateJob is what every replicate verb works with.
type replicateJob struct {
	cfg     *spec.Config
	buckets []spec.Bucket
	env     *awsenv.Env
	deps    operation.Deps
	close   func()
}

// replicateJob loads the config, picks the buckets, and opens the state
// store the operation is recorded in (one that cannot be opened only warns).
func (a *App) replicateJob(ctx context.Context, only string) (*replicateJob, error) {
	cfg, buckets, err := replicateBuckets(a, only)
	if err != nil {
		return nil, err
	}
	env, err := a.Env(ctx)
	if err != nil {
		return nil, Exit(ExitFailed, err)
	}
	store := a.recordStore(ctx, cfg)
	job := &replicateJob{cfg: cfg, buckets: buckets, env: env, deps: a.opDeps(cfg, store, ""), close: func() {}}
	if store != nil {
		job.close = func() { store.Close() }
	}
	return job, nil
}

// replicateResults is the JSON shape of every replicate verb.
type replicateResults[T any] struct {
	Buckets []T      `json:"buckets"`
	Errors  []string `json:"errors,omitempty"`
}

func runReplicateSetup(ctx context.Context, app *App, opts replicateOptions) error {
	job, err := app.replicateJob(ctx, opts.Only)
	if err != nil {
		return err
	}
	defer job.close()
	res, errs, _ := operation.ReplicateSetup(ctx, job.deps, job.cfg, job.env, job.buckets, opts.DryRun)
	out := replicateResults[*s3sync.SetupResult]{Buckets: nonNil(res), Errors: errTexts(errs)}
	perr := app.Print(out, func(w io.Writer) {
		for _, r := range out.Buckets {
			fmt.Fprintf(w, "%s: %s (%s) -> %s (%s), role %s\n", r.Bucket, r.Source, r.SourceRegion, r.Replica, r.ReplicaRegion, r.RoleARN)
			if r.Unchanged {
				fmt.Fprintln(w, "  already set up: nothing to change")
			}
			for _, c := range r.Changed {
				fmt.Fprintf(w, "  %s\n", c)
			}
			for _, n := range r.Notes {
				fmt.Fprintf(w, "  note: %s\n", n)
			}
		}
	})
	return Exit(ExitFailed, errors.Join(append(errs, perr)...))
}

// replicateKeys prints a count and the first few keys of a list.
func replicateKeys(w io.Writer, what string, n int64, keys []string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "  %d %s:\n", n, what)
	const show = 20
	for _, k := range keys[:min(len(keys), show)] {
		fmt.Fprintf(w, "    %s\n", k)
	}
	if n > int64(min(len(keys), show)) {
		fmt.Fprintf(w, "    … and %d more (-o json lists up to 1000)\n", n-int64(min(len(keys), show)))
	}
}

func replicateBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// replicateTTY reports whether w is a character device (a TTY), where a
// redrawn progress line makes sense.
func replicateTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// nonNil drops the results of buckets that failed before giving one.
func nonNil[T any](list []*T) []*T {
	out := []*T{}
	for _, v := range list {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func errTexts(errs []error) []string {
	var out []string
	for _, err := range errs {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}
