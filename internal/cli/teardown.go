package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/recovery"
)

func init() { register(newTeardownCmd) }

// teardownOptions are the teardown verb's flags.
type teardownOptions struct {
	recovery.TeardownOptions
	// Kind is what to tear down: failover or drill.
	Kind        string
	DryRun      bool
	Yes         bool
	ForceUnlock string
}

func newTeardownCmd(app *App) *cobra.Command {
	var o teardownOptions
	cmd := &cobra.Command{
		Use:   "teardown",
		Short: "Delete exactly what a failover (or drill) created, in reverse order",
		Long: `teardown deletes what failover (or --kind drill) created, found by name and
checked by tag: resources without the stack's pilotlight tags are never
touched. What prepare made stays unless --network. The recovered database gets
a final snapshot unless --skip-final-snapshot. Resumable like failover.

--dry-run lists what exists now and would be deleted, found by the same tags;
without --yes that list is shown before the question (and off a terminal,
teardown stops there).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTeardown(cmd.Context(), app, o)
		},
	}
	cmd.Flags().StringVar(&o.Kind, "kind", "failover", "what to tear down: failover or drill")
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
	if o.Kind != recovery.KindFailover && o.Kind != recovery.KindDrill {
		return Exit(ExitUsage, fmt.Errorf("--kind must be failover or drill, not %q", o.Kind))
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
