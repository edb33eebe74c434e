package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newFailbackCmd) }

// failbackOptions are the failback verb's flags.
type failbackOptions struct {
	recoverOptions
	// WriteConfig applies the config change after a failback, so that the
	// config protects what serves now.
	WriteConfig bool
}

func newFailbackCmd(app *App) *cobra.Command {
	var o failbackOptions
	cmd := &cobra.Command{
		Use:   "failback",
		Short: "Return to the primary region after a failover, then tear the DR stack down",
		Long: `failback, once the primary region answers again, moves the stack home without
losing a write:

  1. catch up while DR serves: a read replica of the DR database in the primary
     region (MySQL, MariaDB, PostgreSQL; else a snapshot copied back), and the
     S3 objects written in the DR region copied to the source buckets;
  2. freeze: the DR app is scaled to zero, so nothing writes any more;
  3. final catch-up: the replica is promoted once its lag is 0 (or a last,
     incremental snapshot is copied), and S3 is copied back once more;
  4. the app comes up in the primary from its newest AMI there, with the source
     buckets, and DNS moves back;
  5. the DR stack is torn down.

The report states how long writes were frozen and what was copied after the
freeze, lists the old production (never touched; ` + "`pilotlight teardown --kind old-primary`" + `
retires it on request), and prints the config change
after which protect, prepare and status describe what serves now;
--write-config applies it. An encrypted DR database needs
recover.database.failback_kms_key, a key of the primary region. Journaled,
resumable and locked like failover; see ` + "`pilotlight plan failback`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFailback(cmd.Context(), app, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.WriteConfig, "write-config", false, "after a successful failback, write the config change to the config file")
	return cmd
}

func runFailback(ctx context.Context, app *App, o failbackOptions) error {
	o.Point = "" // failback moves the DB that serves, not a recovery point
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if !o.Yes {
		if err := runPlan(ctx, app, planOptions{Operation: string(operation.KindFailback)}); err != nil {
			return err
		}
		if err := app.confirm(os.Stdin, string(operation.KindFailback)); err != nil {
			return err
		}
	}
	out, err := operation.Recover(ctx, app.opDeps(cfg, store, o.ForceUnlock), cfg, env, operation.KindFailback,
		operation.RecoverOptions{GraphOptions: app.graphOptions(o.Parallelism)})
	if out == nil || out.Stored == nil {
		return opExit(err)
	}
	rep := out.Stored.Report
	var diff string
	if s := rep.Failback; s != nil && len(s.ConfigChanges) > 0 {
		if diff, err = configDiff(cfg, s.ConfigChanges); err != nil {
			app.Log.Warn("could not compute the config change", "config", cfg.File, "err", err)
		}
	}
	_ = app.Print(rep, func(w io.Writer) {
		printReport(w, rep, out.ReportKey())
		printFailbackSummary(w, rep.Failback, cfg, diff, o.WriteConfig)
	})
	if err != nil || out.RunErr != nil {
		return opExit(err)
	}
	if o.WriteConfig && rep.Failback != nil && len(rep.Failback.ConfigChanges) > 0 {
		if err := writeConfigChanges(cfg.File, rep.Failback.ConfigChanges); err != nil {
			return Exit(ExitFailed, err)
		}
		app.Log.Info("config updated: it now protects what serves", "config", cfg.File)
	}
	return nil
}

func printFailbackSummary(w io.Writer, s *recovery.FailbackSummary, cfg *spec.Config, diff string, written bool) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\n%s\n", s.FreezeLine())
	for _, a := range s.AfterFreeze {
		fmt.Fprintf(w, "  copied after the freeze: %s\n", a)
	}
	fmt.Fprintln(w, "production now:")
	for _, r := range s.Production {
		fmt.Fprintf(w, "  %-20s %s\n", r.Type, r.ID)
	}
	if len(s.OldProduction) > 0 {
		fmt.Fprintln(w, "old production in "+cfg.Primary.Region+" (untouched, still running and billed; once you trust the new one and the config names it, retire this with `pilotlight teardown --kind old-primary`, --dry-run first):")
		for _, r := range s.OldProduction {
			fmt.Fprintf(w, "  %-20s %s\n", r.Type, r.ID)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if diff == "" {
		return
	}
	if written {
		fmt.Fprintf(w, "config change written to %s:\n%s", cfg.File, diff)
		return
	}
	fmt.Fprintf(w, "until the config changes, backup, status and prepare describe the OLD production. Change %s (or run failback again with --write-config):\n%s", cfg.File, diff)
}

// configDiff is the change as a unified diff of the lines it touches.
func configDiff(cfg *spec.Config, edits []spec.ScalarEdit) (string, error) {
	before, err := os.ReadFile(cfg.File)
	if err != nil {
		return "", err
	}
	after, err := spec.ApplyEdits(before, edits)
	if err != nil {
		return "", err
	}
	return lineDiff(cfg.File, string(before), string(after)), nil
}

// lineDiff shows the lines that differ, with their numbers: edits change
// values in place, so lines correspond one to one.
func lineDiff(name, before, after string) string {
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", name, name)
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			fmt.Fprintf(&sb, "@@ -%d +%d @@\n-%s\n+%s\n", i+1, i+1, a[i], b[i])
		}
	}
	return sb.String()
}

// writeConfigChanges rewrites the config file with the edits, through a
// temporary file in the same directory so that a crash leaves either.
func writeConfigChanges(path string, edits []spec.ScalarEdit) error {
	before, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	after, err := spec.ApplyEdits(before, edits)
	if err != nil {
		return err
	}
	if _, err := spec.Parse(path, after); err != nil {
		return fmt.Errorf("the changed config %s would not load, left as it was: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".pilotlight-tmp"
	if err := os.WriteFile(tmp, after, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("write config %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace config %s: %w", path, err)
	}
	return nil
}
