package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newBackupCmd) }

// backupOptions are the backup verb's flags.
type backupOptions struct {
	Only     []string
	DryRun   bool
	NoWait   bool
	Parallel int
}

func newBackupCmd(app *App) *cobra.Command {
	var opts backupOptions
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Run one protect cycle: snapshot databases, image instances, copy to DR, prune",
		Long: `backup runs one protect cycle for every database and image in protect:
(or those named with --only):

  1. take a manual RDS snapshot, Aurora cluster snapshot or AMI named
     <stack>-<name>-<UTC yyyymmddhhmmss>, tagged as pilotlight's (or start
     an AWS Backup job, for databases on the aws-backup engine);
  2. once it is available, copy it to the DR region (encrypted sources with
     dr_kms_key, checked in the DR region before anything is made) when
     AWS's copy quota for the DR region has a slot;
  3. once the copy is available, prune both regions to keep: points
     pilotlight did not make are never touched, nor the newest DR copy, nor
     a point a running failover, drill or failback restores from.

Each resource's cycle is a protect job recorded in the state store (one job
per resource at a time, across processes). backup waits for every job and
shows its phase (snapshotting, copying, pruning), age and whether it waits
for a copy slot on stderr; --no-wait starts or advances the jobs once and
returns, printing what is still running: serve, the Lambda or the next
backup finish it. A point left unfinished by an interrupted run is finished
rather than duplicated. Resources run in parallel; one failing does not stop
the others. Exit 1 names every failed resource.`,
		Example: `  pilotlight backup --dry-run
  pilotlight backup --no-wait
  pilotlight backup --only wordpress-db -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackup(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Only, "only", nil, "only this database id or image name (repeatable)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would be created, copied and deleted; change nothing")
	f.BoolVar(&opts.NoWait, "no-wait", false, "start or advance each protect job once and return; print what is still running")
	f.IntVar(&opts.Parallel, "parallel", 64, "resources protected at once (copies are further bounded by AWS's copy quotas)")
	return cmd
}

func runBackup(ctx context.Context, app *App, opts backupOptions) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	if _, err := cfg.Select(opts.Only, spec.KindPoints); err != nil {
		return Exit(ExitUsage, err)
	}
	if len(cfg.Protect.Databases)+len(cfg.Protect.Images) == 0 {
		return Exit(ExitUsage, fmt.Errorf("%s: protect has no databases or images: nothing to back up", app.ConfigPath))
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	store := app.recordStore(ctx, cfg)
	if store != nil {
		defer store.Close()
	}
	if opts.NoWait && store == nil && !opts.DryRun {
		return Exit(ExitFailed, fmt.Errorf("--no-wait leaves jobs running for the next run to finish, which needs the state store %s", cfg.State.Path))
	}
	wait := operation.BackupWait{NoWait: opts.NoWait}
	if !opts.NoWait {
		wait.Progress = backupProgress(app.Stderr, time.Now)
	}
	rep, _, err := operation.BackupWith(ctx, app.opDeps(cfg, store, ""), cfg, env, points.BackupOptions{
		Only: opts.Only, DryRun: opts.DryRun, Parallelism: opts.Parallel, Log: app.Log,
	}, wait)
	if rep == nil {
		return Exit(ExitFailed, err)
	}
	if perr := app.Print(rep, func(w io.Writer) { printBackupReport(w, rep) }); perr != nil {
		return perr
	}
	return Exit(ExitFailed, err)
}

// recordStore opens the state store for an operation that does not need
// it to do its work (backup, replicate): one that cannot be opened only
// warns, and the operation runs unrecorded.
func (a *App) recordStore(ctx context.Context, cfg *spec.Config) state.Store {
	store, err := a.openState(ctx, cfg)
	if err != nil {
		a.Log.Warn("the operation will not be recorded", "state", cfg.State.Path, "err", err)
		return nil
	}
	return store
}

func printBackupReport(w io.Writer, rep *points.BackupReport) {
	if rep.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed; a cycle would:")
		for _, l := range rep.Planned {
			fmt.Fprintf(w, "  %s\n", l)
		}
		for _, r := range rep.Results {
			if r.Error != "" {
				fmt.Fprintf(w, "  %s: FAILED: %s\n", r.Resource, r.Error)
			}
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tKIND\tRESULT\tPOINT\tDR COPY\tDELETED\tTIME")
	for _, r := range rep.Results {
		result, point := "ok", r.Created
		switch {
		case r.Error != "":
			result = "FAILED"
		case r.InProgress:
			result, point = string(r.Phase), cmp.Or(r.Point, r.Created)
			if r.Queued {
				result += " (queued)"
			}
		case r.Resumed != "":
			result, point = "resumed", r.Resumed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Resource, r.Kind, result, pointsDash(point), pointsDash(r.Copied),
			len(r.Deleted), r.Duration.Round(10*time.Millisecond))
	}
	tw.Flush()
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Resource, r.Error)
		}
	}
	if p := rep.Pending(); len(p) > 0 {
		fmt.Fprintf(w, "%d protect job(s) still running in AWS; serve, the Lambda or the next backup finish them (see pilotlight points):\n", len(p))
		now := time.Now()
		for _, r := range p {
			fmt.Fprintf(w, "  %s\n", progressLine(r, now))
		}
	}
}

// backupProgress shows, after each step of a waiting backup, every job
// still running: its phase, its age and whether its copy waits for a slot
// in AWS's copy quota. A job's line is repeated only when it changed or a
// minute has passed, so a copy of hours is a heartbeat, not a flood.
func backupProgress(w io.Writer, now func() time.Time) func(*points.BackupReport) {
	type shown struct {
		line string
		at   time.Time
	}
	last := map[string]shown{}
	return func(rep *points.BackupReport) {
		t := now()
		for _, r := range rep.Results {
			key := fmt.Sprintf("%s/%v", r.Phase, r.Queued)
			prev, seen := last[r.Resource]
			if seen && prev.line == key && t.Sub(prev.at) < time.Minute {
				continue
			}
			if !seen && !r.InProgress {
				continue // finished in its first step: the table says it
			}
			last[r.Resource] = shown{key, t}
			fmt.Fprintf(w, "backup: %s\n", progressLine(r, t))
		}
	}
}

// progressLine is one job's state in words, e.g.
// "wordpress-db: copying for 12m0s, queued for a copy slot".
func progressLine(r points.ResourceResult, now time.Time) string {
	s := r.Resource + ": " + string(r.Phase)
	if r.Error != "" {
		return s + ": " + r.Error
	}
	if !r.Since.IsZero() && r.InProgress {
		s += " for " + now.Sub(r.Since).Round(time.Second).String()
	}
	if r.Queued {
		s += ", queued for a copy slot"
	}
	if r.Point != "" && r.InProgress {
		s += " (" + r.Point + ")"
	}
	return s
}

func pointsDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
