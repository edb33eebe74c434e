package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() {
	register(newDrillCmd)
	register(newReportsCmd)
}

func newDrillCmd(app *App) *cobra.Command {
	var o recoverFlags
	var keep bool
	var reportPath string
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse a failover into an isolated copy, verify it, measure RPO/RTO, tear it down",
		Long: `drill runs the failover's steps into resources suffixed -drill (production DNS
and the primary region untouched; a drill record is pointed at the drill's load
balancer if recover.dns.drill_record is set), then verifies the result: DB
restored from the newest DR copy and available, cache available, app at desired
capacity with healthy targets, user-data carrying the DR endpoints, replica
buckets converged, DB and AMI copies within their target RPO. It tears the drill
down (even when a check failed) unless --keep, writes a JSON and a self-contained
HTML report, and exits 1 if any check failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDrill(cmd.Context(), app, o, keep, reportPath)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the drill's resources up for inspection (tear down later with `teardown --kind drill`)")
	cmd.Flags().StringVar(&reportPath, "report", "", "also write the HTML report to this file (default: <state dir>/reports/<run>.html for a local state)")
	return cmd
}

// DrillResult is what `drill --output json` prints.
type DrillResult struct {
	Report     *recovery.Report `json:"report"`
	Checks     []report.Check   `json:"checks"`
	Passed     bool             `json:"passed"`
	TornDown   bool             `json:"torn_down"`
	HTMLReport string           `json:"html_report,omitempty"`
}

func runDrill(ctx context.Context, app *App, o recoverFlags, keep bool, reportPath string) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := recovery.CheckUserData(cfg); err != nil {
		return Exit(ExitUsage, err)
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindDrill, PointID: o.point, Log: app.Log})
	g, err := r.Graph()
	if err != nil {
		return Exit(ExitFailed, err)
	}
	res := &DrillResult{}
	var runErr, tearErr error
	err = app.withLock(ctx, cfg, store, "drill", o.forceUnlock, func() error {
		events := runbook.NewProgress(app.Stderr, app.JSON(), isTerminalWriter(app.Stderr))
		runner := &runbook.Runner{Store: store, Parallelism: o.parallelism, Log: app.Log, Events: events}
		journal, err := runner.Run(ctx, g, cfg.Stack, recovery.KindDrill, map[string]string{"point": o.point})
		runErr = err
		if journal == nil {
			return nil
		}
		res.Report = r.BuildReport(journal)
		res.Checks = r.Verify(ctx, journal, journal.Start)
		if !keep {
			tg, err := r.TeardownGraph(recovery.TeardownOptions{})
			if err == nil {
				runner := &runbook.Runner{Store: store, Log: app.Log, Events: events}
				_, err = runner.Run(ctx, tg, cfg.Stack, "teardown-"+recovery.KindDrill, nil)
			}
			if err == nil {
				abandonTornDown(ctx, app, store, cfg.Stack, recovery.KindDrill)
			}
			tearErr = err
			res.TornDown = err == nil
			res.Checks = append(res.Checks, report.Check{Name: "drill torn down", Pass: err == nil, Detail: errText(err, "every drill resource deleted")})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if res.Report == nil {
		return Exit(ExitFailed, fmt.Errorf("drill: %w", runErr))
	}
	doc := res.Report.Document(res.Checks)
	res.Passed = runErr == nil && doc.Passed()
	res.HTMLReport, err = saveReport(ctx, app, store, cfg.State.Path, res.Report.RunID, res, doc, reportPath)
	if err != nil {
		app.Log.Warn("could not save the report", "err", err)
	}
	_ = app.Print(res, func(w io.Writer) {
		printReport(w, res.Report, "reports/"+res.Report.RunID+"/report.json")
		for _, c := range res.Checks {
			mark := "PASS"
			if !c.Pass {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s %-45s %s\n", mark, c.Name, c.Detail)
		}
		if res.HTMLReport != "" {
			fmt.Fprintf(w, "  HTML report: %s\n", res.HTMLReport)
		}
		verdict := "PASSED"
		if !res.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "drill %s\n", verdict)
	})
	switch {
	case runErr != nil:
		return Exit(ExitFailed, fmt.Errorf("drill %s: %w", res.Report.RunID, runErr))
	case tearErr != nil:
		return Exit(ExitFailed, fmt.Errorf("drill teardown: %w (run `pilotlight teardown --kind drill` to finish)", tearErr))
	case !res.Passed:
		return Exit(ExitFailed, fmt.Errorf("drill %s: a check failed", res.Report.RunID))
	}
	return nil
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// saveReport keeps the JSON and HTML in the state store, and writes the
// HTML where a person can open it.
func saveReport(ctx context.Context, app *App, store state.Store, statePath, runID string, v any, doc *report.Document, path string) (string, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	if err := store.Put(ctx, "reports/"+runID+"/report.json", data); err != nil {
		return "", err
	}
	var html bytes.Buffer
	if err := report.HTML(&html, doc); err != nil {
		return "", err
	}
	if err := store.Put(ctx, "reports/"+runID+"/report.html", html.Bytes()); err != nil {
		return "", err
	}
	if path == "" && !strings.Contains(statePath, "://") {
		path = filepath.Join(statePath, "reports", runID+".html")
	}
	if path == "" {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, html.Bytes(), 0o600); err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	return abs, nil
}

func newReportsCmd(app *App) *cobra.Command {
	var html string
	cmd := &cobra.Command{
		Use:   "reports [RUN-ID]",
		Short: "List the stored reports of failovers and drills, or show one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.LoadConfig()
			if err != nil {
				return err
			}
			store, err := app.openState(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := cmd.Context()
			if len(args) == 0 {
				keys, err := store.List(ctx, "reports/")
				if err != nil {
					return Exit(ExitFailed, err)
				}
				type entry struct {
					RunID string    `json:"run_id"`
					Kind  string    `json:"kind"`
					Phase string    `json:"phase"`
					Start time.Time `json:"start"`
					Pass  *bool     `json:"passed,omitempty"`
				}
				var list []entry
				for _, k := range keys {
					if !strings.HasSuffix(k, "/report.json") {
						continue
					}
					data, err := store.Get(ctx, k)
					if err != nil {
						continue
					}
					var e entry
					var wrapped struct {
						Report *recovery.Report `json:"report"`
						Passed *bool            `json:"passed"`
					}
					var plain recovery.Report
					if json.Unmarshal(data, &wrapped) == nil && wrapped.Report != nil {
						e = entry{RunID: wrapped.Report.RunID, Kind: wrapped.Report.Kind, Phase: wrapped.Report.Phase, Start: wrapped.Report.Start, Pass: wrapped.Passed}
					} else if json.Unmarshal(data, &plain) == nil {
						e = entry{RunID: plain.RunID, Kind: plain.Kind, Phase: plain.Phase, Start: plain.Start}
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
			data, err := store.Get(ctx, "reports/"+args[0]+"/report.json")
			if err != nil {
				return Exit(ExitFailed, fmt.Errorf("report %s: %w", args[0], err))
			}
			if html != "" {
				page, err := store.Get(ctx, "reports/"+args[0]+"/report.html")
				if err != nil {
					return Exit(ExitFailed, fmt.Errorf("HTML report of %s: %w", args[0], err))
				}
				if err := os.WriteFile(html, page, 0o600); err != nil {
					return Exit(ExitFailed, err)
				}
			}
			_, err = app.Stdout.Write(append(data, '\n'))
			return err
		},
	}
	cmd.Flags().StringVar(&html, "html", "", "write the run's HTML report to this file")
	return cmd
}
