package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newReportsCmd) }

// reportsOptions are the reports verb's flags.
type reportsOptions struct {
	// HTML is a file the run's HTML report is written to.
	HTML string
}

func newReportsCmd(app *App) *cobra.Command {
	var o reportsOptions
	cmd := &cobra.Command{
		Use:   "reports [RUN-ID]",
		Short: "List the stored reports of failovers, drills and failbacks, or show one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runReports(cmd.Context(), app, id, o)
		},
	}
	cmd.Flags().StringVar(&o.HTML, "html", "", "write the run's HTML report to this file")
	return cmd
}

// reportEntry is one line of `reports`.
type reportEntry struct {
	RunID string    `json:"run_id"`
	Kind  string    `json:"kind"`
	Phase string    `json:"phase"`
	Start time.Time `json:"start"`
	Pass  *bool     `json:"passed,omitempty"`
}

func runReports(ctx context.Context, app *App, id string, o reportsOptions) error {
	_, store, err := app.configState(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if id == "" {
		ids, err := operation.ReportIDs(ctx, store, "")
		if err != nil {
			return Exit(ExitFailed, err)
		}
		var list []reportEntry
		for _, id := range ids {
			st, err := operation.LoadReport(ctx, store, id)
			if err != nil {
				continue
			}
			e := reportEntry{RunID: st.Report.RunID, Kind: st.Report.Kind, Phase: st.Report.Phase, Start: st.Report.Start}
			if len(st.Checks) > 0 {
				e.Pass = &st.Passed
			}
			list = append(list, e)
		}
		return app.Print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "no reports yet")
			}
			for _, e := range list {
				verdict := ""
				if e.Pass != nil {
					verdict = map[bool]string{true: "passed", false: "FAILED"}[*e.Pass]
				}
				fmt.Fprintf(w, "%-40s %-9s %-9s %s %s\n", e.RunID, e.Kind, e.Phase, e.Start.UTC().Format(time.RFC3339), verdict)
			}
		})
	}
	data, err := store.Get(ctx, operation.ReportKey(id, "json"))
	if errors.Is(err, state.ErrNotFound) {
		// Backups, prepares and teardowns are recorded as runs, not reports.
		return Exit(ExitUsage, fmt.Errorf("no report %s: reports are kept for failovers, drills and failbacks (`pilotlight reports` lists them); `pilotlight runs` lists every operation", id))
	}
	if err != nil {
		return Exit(ExitFailed, fmt.Errorf("report %s: %w", id, err))
	}
	if o.HTML != "" {
		page, err := store.Get(ctx, operation.ReportKey(id, "html"))
		if err != nil {
			return Exit(ExitFailed, fmt.Errorf("HTML report of %s: %w", id, err))
		}
		if err := os.WriteFile(o.HTML, page, 0o600); err != nil {
			return Exit(ExitFailed, err)
		}
	}
	_, err = app.Stdout.Write(append(data, '\n'))
	return err
}
