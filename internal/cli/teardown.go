package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newTeardownCmd) }

// teardownOptions are the teardown verb's flags.
type teardownOptions struct {
	recovery.TeardownOptions
	// Kind is what to tear down: failover, drill, or old-primary (the
	// production a failback replaced).
	Kind        string
	DryRun      bool
	Yes         bool
	ForceUnlock string
}

func newTeardownCmd(app *App) *cobra.Command {
	var o teardownOptions
	cmd := &cobra.Command{
		Use:   "teardown",
		Short: "Delete exactly what a failover (or drill) created, or the production a failback replaced",
		Long: `teardown deletes what failover (or --kind drill) created, found by name and
checked by tag: resources without the stack's pilotlight tags are never
touched. What prepare made stays unless --network. The recovered database gets
a final snapshot unless --skip-final-snapshot. Resumable like failover.

--dry-run lists what exists now and would be deleted, found by the same tags;
without --yes that list is shown before the question (and off a terminal,
teardown stops there).

--kind old-primary retires the production a failback replaced in the primary
region: exactly what the newest failback's report listed as old production
(its database, its app's auto scaling group or instances, its load balancer),
and nothing else. It refuses, deleting nothing, until that failback has
completed, while the config still names any of it (apply the config change
failback printed first), and while the current production still uses any of
it (DNS, a target group, a launch template's user-data). The database gets a
final snapshot unless --skip-final-snapshot. --dry-run shows the list and the
refusals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTeardown(cmd.Context(), app, o)
		},
	}
	cmd.Flags().StringVar(&o.Kind, "kind", "failover", "what to tear down: failover, drill, or old-primary")
	cmd.Flags().BoolVar(&o.Network, "network", false, "also delete what prepare made")
	cmd.Flags().BoolVar(&o.SkipFinalSnapshot, "skip-final-snapshot", false, "delete the recovered DB without a final snapshot")
	cmd.Flags().BoolVar(&o.Force, "force", false, "tear down even while the domain still points at the DR stack")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "show what would be deleted; change nothing")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&o.ForceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	return cmd
}

func printInventory(w io.Writer, stack, kind string, inv *readiness.Inventory) {
	if len(inv.Found) == 0 {
		fmt.Fprintf(w, "nothing of %s's %s exists in %s: nothing to tear down\n", stack, kind, inv.Region)
	} else {
		fmt.Fprintf(w, "teardown of %s's %s would delete, in %s:\n", stack, kind, inv.Region)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range inv.Found {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Type, f.ID, f.Note)
		}
		tw.Flush()
	}
	for _, e := range inv.Errors {
		fmt.Fprintf(w, "  could not list %s\n", e)
	}
}

func runTeardown(ctx context.Context, app *App, o teardownOptions) error {
	switch o.Kind {
	case recovery.KindFailover, recovery.KindDrill:
	case recovery.KindOldPrimary:
		return runRetireOldPrimary(ctx, app, o)
	default:
		return Exit(ExitUsage, fmt.Errorf("--kind must be failover, drill or old-primary, not %q", o.Kind))
	}
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if o.DryRun || !o.Yes {
		// What exists, found by tag as teardown finds it: the generic
		// steps say nothing about what this stack has now.
		inv := readiness.ListDR(ctx, env, cfg, readiness.InventoryOptions{OpKind: o.Kind, Network: o.Network,
			SkipFinalSnapshot: o.SkipFinalSnapshot})
		if err := app.Print(inv, func(w io.Writer) { printInventory(w, cfg.Stack, o.Kind, inv) }); err != nil {
			return err
		}
		if o.DryRun {
			if len(inv.Errors) > 0 {
				return Exit(ExitFailed, fmt.Errorf("could not list everything in %s: %s", inv.Region, strings.Join(inv.Errors, "; ")))
			}
			return nil
		}
		if len(inv.Found) == 0 && len(inv.Errors) == 0 {
			return nil
		}
		if err := app.confirm(os.Stdin, "teardown"); err != nil {
			return err
		}
	}
	out, err := operation.Teardown(ctx, app.opDeps(cfg, store, o.ForceUnlock), cfg, env, operation.TeardownOptions{
		TeardownOptions: o.TeardownOptions, Of: operation.Kind(o.Kind), GraphOptions: app.graphOptions(0),
	})
	if out == nil || out.Journal == nil {
		return opExit(err)
	}
	journal := out.Journal
	_ = app.Print(journal, func(w io.Writer) {
		fmt.Fprintf(w, "teardown of %s %s: %s\n", cfg.Stack, o.Kind, journal.Phase)
		for _, s := range journal.Steps {
			var what []string
			for _, k := range []string{"deleted", "deleted_lb", "deleted_tg", "final_snapshot", "skipped", "kept_vpc"} {
				if v := s.Outputs[k]; v != "" {
					what = append(what, k+" "+v)
				}
			}
			line := fmt.Sprintf("  %-16s %-9s %s", s.ID, s.Phase, strings.Join(what, "; "))
			if s.Error != "" {
				line += " " + s.Error
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	})
	return opExit(err)
}

// runRetireOldPrimary is `teardown --kind old-primary`: the newest
// failback's old production, listed first (the dry run), then retired
// under the stack's lock as a recorded teardown.
func runRetireOldPrimary(ctx context.Context, app *App, o teardownOptions) error {
	if o.Network || o.Force {
		return Exit(ExitUsage, errors.New("--network and --force do not apply to --kind old-primary"))
	}
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	old, err := newestFailback(ctx, store, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	ropts := recovery.RetireOptions{SkipFinalSnapshot: o.SkipFinalSnapshot, Log: app.Log}
	if o.DryRun || !o.Yes {
		dry := ropts
		dry.DryRun = true
		res, rerr := recovery.RetireOldPrimary(ctx, cfg, env, old, dry)
		if perr := app.Print(res, func(w io.Writer) { printRetirement(w, res) }); perr != nil {
			return perr
		}
		if rerr != nil {
			return Exit(ExitFailed, rerr)
		}
		if o.DryRun || !res.Deletes() {
			return nil
		}
		if err := app.confirm(os.Stdin, "teardown --kind old-primary"); err != nil {
			return err
		}
	}
	var res *recovery.Retirement
	_, err = operation.Run(ctx, app.opDeps(cfg, store, o.ForceUnlock), operation.KindTeardown, func(ctx context.Context, rec *operation.Record) error {
		rec.Meta = map[string]string{"of": recovery.KindOldPrimary, "failback": old.Failback}
		var err error
		res, err = recovery.RetireOldPrimary(ctx, cfg, env, old, ropts)
		if res == nil {
			return err
		}
		for _, it := range res.Items {
			r := operation.Result{Resource: it.Type + "/" + it.ID, Kind: it.Type, Phase: operation.PhaseCompleted, Detail: it.Phase, Error: it.Error}
			if it.Note != "" {
				r.Detail += ": " + it.Note
			}
			if it.Phase == recovery.RetireRefused || it.Phase == recovery.RetireFailed {
				r.Phase = operation.PhaseFailed
			}
			rec.Results = append(rec.Results, r)
		}
		if len(res.Refused) > 0 {
			rec.Phase = operation.PhaseFailed
		}
		return err
	})
	if res != nil {
		_ = app.Print(res, func(w io.Writer) { printRetirement(w, res) })
	}
	return opExit(err)
}

// newestFailback is the old production the newest failback named, with
// the old productions of the completed failbacks before it (one nobody
// retired is named by no later report). A failover after the newest
// failback means the stack serves from DR again: what the primary ran
// before is then not for this verb to judge.
func newestFailback(ctx context.Context, store state.Store, stack string) (recovery.OldPrimary, error) {
	recs, err := operation.List(ctx, store, stack)
	if err != nil {
		return recovery.OldPrimary{}, err
	}
	var newest *recovery.OldPrimary
	for _, rec := range recs {
		switch rec.Kind {
		case operation.KindFailover:
			if newest == nil {
				return recovery.OldPrimary{}, fmt.Errorf("the newest recovery of %s is failover %s (%s): the stack serves from DR; fail back first, then retire what that failback replaced", stack, rec.ID, rec.Phase)
			}
		case operation.KindFailback:
			old, err := failbackOld(ctx, store, rec)
			if err != nil {
				return recovery.OldPrimary{}, err
			}
			switch {
			case newest == nil:
				newest = &old
				if !old.Completed {
					return old, nil
				}
			case old.Completed:
				newest.Earlier = append(newest.Earlier, old)
			}
		}
	}
	if newest == nil {
		return recovery.OldPrimary{}, nil
	}
	return *newest, nil
}

// failbackOld is what one failback record's report says it replaced.
func failbackOld(ctx context.Context, store state.Store, rec *operation.Record) (recovery.OldPrimary, error) {
	if len(rec.Journals) == 0 {
		return recovery.OldPrimary{Failback: rec.ID}, nil
	}
	run := rec.Journals[len(rec.Journals)-1]
	st, err := operation.LoadReport(ctx, store, run)
	if err != nil {
		if rec.Phase != operation.PhaseCompleted {
			return recovery.OldPrimary{Failback: run}, nil
		}
		return recovery.OldPrimary{}, fmt.Errorf("failback %s: %w", run, err)
	}
	old := recovery.OldPrimaryOf(st.Report)
	old.Completed = old.Completed && rec.Phase == operation.PhaseCompleted
	return old, nil
}

func printRetirement(w io.Writer, res *recovery.Retirement) {
	if res == nil {
		return
	}
	verb := "retired"
	if res.DryRun {
		verb = "would retire"
	}
	fmt.Fprintf(w, "teardown of %s's old primary (what failback %s replaced) %s, in %s:\n", res.Stack, orNone(res.Failback), verb, res.Region)
	if len(res.Items) == 0 {
		fmt.Fprintln(w, "  nothing: the failback named no old production")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, it := range res.Items {
		id := it.ID
		if it.Name != "" {
			id = it.Name
		}
		note := it.Note
		if it.Error != "" {
			note = strings.TrimSpace(note + " " + it.Error)
		}
		if it.Region != "" && it.Region != res.Region {
			id += " (" + it.Region + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", it.Phase, it.Type, id, note)
	}
	tw.Flush()
	for _, why := range res.Refused {
		fmt.Fprintf(w, "refused: %s\n", why)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
