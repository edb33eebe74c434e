package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newDrillCmd) }

// drillOptions are the drill verb's flags.
type drillOptions struct {
	recoverOptions
	Keep bool
	// Report is a file the HTML report is also written to.
	Report string
}

func newDrillCmd(app *App) *cobra.Command {
	var o drillOptions
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
			return runDrill(cmd.Context(), app, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the drill's resources up for inspection (tear down later with `teardown --kind drill`)")
	cmd.Flags().StringVar(&o.Report, "report", "", "also write the HTML report to this file (default: <state dir>/reports/<run>.html for a local state)")
	return cmd
}

// DrillResult is what `drill --output json` prints: the stored report.
type DrillResult = operation.Stored

func runDrill(ctx context.Context, app *App, o drillOptions) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := recovery.CheckUserData(cfg); err != nil {
		return Exit(ExitUsage, err)
	}
	out, err := operation.Drill(ctx, app.opDeps(cfg, store, o.ForceUnlock), cfg, env, operation.DrillOptions{
		RecoverOptions: operation.RecoverOptions{Point: o.Point, GraphOptions: app.graphOptions(o.Parallelism)},
		Keep:           o.Keep,
		Predicted:      predictDrill(ctx, app, cfg, env, store, o),
	})
	if out == nil || out.Stored == nil {
		return opExit(err)
	}
	res := out.Stored
	if out.HTML != nil {
		path, werr := writeHTML(cfg.State.Path, res.Report.RunID, o.Report, out.HTML)
		if werr != nil {
			app.Log.Warn("could not write the HTML report", "err", werr)
		}
		res.HTMLReport = path
	}
	_ = app.Print(res, func(w io.Writer) {
		printReport(w, res.Report, out.ReportKey())
		if c := res.Report.Prediction; c != nil {
			fmt.Fprintf(w, "  %s\n", c.Summary)
		}
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
	return opExit(err)
}

// writeHTML writes a report page where a person can open it: path, or
// beside a local state store. It returns the absolute path written.
func writeHTML(statePath, runID, path string, html []byte) (string, error) {
	if path == "" && !strings.Contains(statePath, "://") {
		path = filepath.Join(statePath, "reports", runID+".html")
	}
	if path == "" {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, html, 0o600); err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	return abs, nil
}

// predictDrill is the drill's RTO as `plan drill` predicts it, made before
// the drill starts (from the previous drill's steps, or AWS's durations),
// so that the report can say how far off it was. Without it (no point to
// size the restore by, say) the drill runs and reports no comparison.
func predictDrill(ctx context.Context, app *App, cfg *spec.Config, env *awsenv.Env, store state.Store, o drillOptions) *recovery.Prediction {
	r := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindDrill, PointID: o.Point, Log: app.Log})
	db, _, err := r.ChosenPoints(ctx)
	if err != nil {
		app.Log.Warn("no RTO prediction for this drill", "err", err)
		return nil
	}
	p, err := r.Predict(lastDrillIn(ctx, store), db, recovery.AWSClock)
	if err != nil {
		app.Log.Warn("no RTO prediction for this drill", "err", err)
		return nil
	}
	return &p
}
