package cli

import (
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
     <stack>-<name>-<UTC yyyymmddhhmmss>, tagged as pilotlight's;
  2. wait until it is available (no fixed sleeps);
  3. copy it to the DR region (encrypted sources with dr_kms_key, checked in
     the DR region before anything is made) and wait for the copy;
  4. prune both regions to keep: points pilotlight did not make are never
     touched, and the newest point with a complete DR copy is always kept.

A point left unfinished by an interrupted run is finished rather than
duplicated. Resources run in parallel within AWS's copy quotas; one failing
does not stop the others. Exit 1 names every failed resource.`,
		Example: `  pilotlight backup --dry-run
  pilotlight backup --only wordpress-db -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackup(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.Only, "only", nil, "only this database id or image name (repeatable)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would be created, copied and deleted; change nothing")
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
	rep, _, err := operation.Backup(ctx, app.opDeps(cfg, store, ""), cfg, env, points.BackupOptions{
		Only: opts.Only, DryRun: opts.DryRun, Parallelism: opts.Parallel, Log: app.Log,
	})
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
}

func pointsDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
