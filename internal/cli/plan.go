package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newPlanCmd) }

// planOptions are the plan verb's flags and argument.
type planOptions struct {
	// Operation is failover, drill, failback, teardown, or (for teardown
	// --dry-run) teardown-failover and teardown-drill.
	Operation string
	Point     string
	Network   bool
}

func newPlanCmd(app *App) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:       "plan failover|drill|failback|teardown",
		Short:     "Show the step graph and what each step would do; change nothing",
		Long:      "plan prints the operation's steps, their dependencies, the resources they would create and the recovery points they would use. It takes no lock and changes nothing; for failover and drill it reads only the DR region.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"failover", "drill", "failback", "teardown"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Operation = args[0]
			return runPlan(cmd.Context(), app, o)
		},
	}
	cmd.Flags().StringVar(&o.Point, "point", "", "plan with this DB recovery point instead of the newest DR copy")
	cmd.Flags().BoolVar(&o.Network, "network", false, "teardown: include what prepare made")
	return cmd
}

type planStep struct {
	ID    string   `json:"id"`
	Needs []string `json:"needs,omitempty"`
	Plan  string   `json:"plan"`
}

type planOutput struct {
	Operation string     `json:"operation"`
	Stack     string     `json:"stack"`
	Region    string     `json:"region"`
	Steps     []planStep `json:"steps"`
	Points    []string   `json:"points,omitempty"`
	Warnings  []string   `json:"warnings,omitempty"`
	// Predicted is failover's and drill's predicted RTO.
	Predicted *recovery.Prediction `json:"predicted_rto,omitempty"`
	// Engines is each database's copy engine and why (auto resolved when
	// the state store opens).
	Engines []readiness.Engine `json:"engines,omitempty"`
}

func runPlan(ctx context.Context, app *App, o planOptions) error {
	op := o.Operation
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	out := planOutput{Operation: op, Stack: cfg.Stack, Region: cfg.DR.Region}
	var g *runbook.Graph
	switch op {
	case "failover", "drill":
		kind := recovery.KindFailover
		if op == "drill" {
			kind = recovery.KindDrill
		}
		r := recovery.New(cfg, env, recovery.Options{Kind: kind, PointID: o.Point, Log: app.Log})
		if err := recovery.CheckUserData(cfg); err != nil {
			return Exit(ExitUsage, err)
		}
		if why, bad := recovery.DNSDependsOnPrimary(cfg); bad && kind == recovery.KindFailover {
			out.Warnings = append(out.Warnings, why)
		}
		db, image, err := r.ChosenPoints(ctx)
		if err != nil {
			return Exit(ExitFailed, err)
		}
		now := time.Now()
		for _, p := range []*pointLine{lineOf(db, now), lineOf(image, now)} {
			if p != nil {
				out.Points = append(out.Points, p.String())
			}
		}
		if g, err = r.Graph(); err != nil {
			return Exit(ExitFailed, err)
		}
		p, err := r.Predict(lastDrill(ctx, app), db, recovery.AWSClock)
		if err != nil {
			return Exit(ExitFailed, err)
		}
		out.Predicted = &p
	case "failback":
		if g, err = recovery.NewFailback(cfg, env, recovery.Options{Log: app.Log}).Graph(); err != nil {
			return Exit(ExitFailed, err)
		}
	case "teardown", "teardown-failover", "teardown-drill":
		kind := recovery.KindFailover
		if op == "teardown-drill" {
			kind = recovery.KindDrill
		}
		r := recovery.New(cfg, env, recovery.Options{Kind: kind, Log: app.Log})
		if g, err = r.TeardownGraph(recovery.TeardownOptions{Network: o.Network}); err != nil {
			return Exit(ExitFailed, err)
		}
	default:
		return Exit(ExitUsage, fmt.Errorf("plan: unknown operation %q (want failover, drill, failback or teardown)", op))
	}
	for _, s := range g.Steps() {
		out.Steps = append(out.Steps, planStep{ID: s.ID, Needs: s.Needs, Plan: s.Plan})
	}
	if store, err := app.openState(ctx, cfg); err == nil {
		out.Engines = readiness.Engines(ctx, env, cfg, store)
		store.Close()
	} else {
		out.Engines = readiness.Engines(ctx, env, cfg, nil)
	}
	return app.Print(out, func(w io.Writer) {
		for _, warn := range out.Warnings {
			fmt.Fprintf(w, "WARNING: %s\n\n", warn)
		}
		fmt.Fprintf(w, "plan %s of %s in %s (nothing is changed):\n", op, cfg.Stack, cfg.DR.Region)
		for _, p := range out.Points {
			fmt.Fprintf(w, "  point: %s\n", p)
		}
		for _, e := range out.Engines {
			fmt.Fprintf(w, "  engine: %s: %s: %s\n", e.Database, e.Engine, e.Why)
		}
		for _, s := range out.Steps {
			needs := ""
			if len(s.Needs) > 0 {
				needs = " (after " + strings.Join(s.Needs, ", ") + ")"
			}
			fmt.Fprintf(w, "  %-16s %s%s\n", s.ID, s.Plan, needs)
		}
		if p := out.Predicted; p != nil {
			fmt.Fprintf(w, "predicted RTO %s, critical path %s\n  (from %s)\n", p.Duration().Round(time.Second), strings.Join(p.CriticalPath, " -> "), p.Basis)
			if p.DNSTTLSeconds > 0 {
				fmt.Fprintf(w, "  (resolvers may keep the old answer up to the record's TTL, %s, longer)\n", time.Duration(p.DNSTTLSeconds)*time.Second)
			}
		}
	})
}

// lastDrill is the newest finished drill's report, or nil: without one
// (or without the state store) the prediction uses the duration table.
func lastDrill(ctx context.Context, app *App) *recovery.Report {
	_, store, err := app.configState(ctx)
	if err != nil {
		return nil
	}
	defer store.Close()
	return lastDrillIn(ctx, store)
}

// lastDrillIn is the newest finished drill's report in store, or nil.
func lastDrillIn(ctx context.Context, store state.Store) *recovery.Report {
	ids, err := operation.ReportIDs(ctx, store, operation.KindDrill)
	if err != nil {
		return nil
	}
	for i := len(ids) - 1; i >= 0; i-- {
		st, err := operation.LoadReport(ctx, store, ids[i])
		if err == nil && st.Report != nil && st.Report.Phase == string(runbook.PhaseDone) {
			return st.Report
		}
	}
	return nil
}

type pointLine struct {
	resource, id string
	at           time.Time
	now          time.Time
}

func lineOf(p *points.Point, now time.Time) *pointLine {
	if p == nil {
		return nil
	}
	return &pointLine{resource: p.Resource, id: p.ID, at: p.Created, now: now}
}

func (p pointLine) String() string {
	return fmt.Sprintf("%s <- %s (taken %s, %s ago)", p.resource, p.id, p.at.UTC().Format(time.RFC3339), p.now.Sub(p.at).Round(time.Second))
}
