package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() {
	register(newPrepareCmd)
	register(newPlanCmd)
	register(newFailoverCmd)
	register(newTeardownCmd)
	register(newFailbackCmd)
}

func newFailbackCmd(app *App) *cobra.Command {
	var o recoverFlags
	cmd := &cobra.Command{
		Use:   "failback",
		Short: "Return to the primary region after a failover, then tear the DR stack down",
		Long: `failback, once the primary region answers again: snapshots the DR database and
copies it to the primary region, restores it there under a new identifier (the
old primary database is never deleted), copies S3 objects written in the DR
region during the outage back to the source buckets (no deletes), brings the
app up in the primary from its newest AMI there, switches DNS back, and then
tears the DR stack down. Journaled, resumable and locked like failover; see
` + "`pilotlight plan failback`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFailback(cmd.Context(), app, o)
		},
	}
	o.bind(cmd)
	return cmd
}

func runFailback(ctx context.Context, app *App, o recoverFlags) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if !o.yes {
		if err := runPlan(ctx, app, "failback", "", false); err != nil {
			return err
		}
		if err := app.confirm(os.Stdin, "failback"); err != nil {
			return err
		}
	}
	f := recovery.NewFailback(cfg, env, recovery.Options{Log: app.Log})
	g, err := f.Graph()
	if err != nil {
		return Exit(ExitFailed, err)
	}
	var journal *runbook.Journal
	var runErr error
	err = app.withLock(ctx, cfg, store, recovery.KindFailback, o.forceUnlock, func() error {
		runner := &runbook.Runner{Store: store, Parallelism: o.parallelism, Log: app.Log,
			Events: runbook.NewProgress(app.Stderr, app.JSON(), isTerminalWriter(app.Stderr))}
		journal, runErr = runner.Run(ctx, g, cfg.Stack, recovery.KindFailback, nil)
		return nil
	})
	if err != nil {
		return err
	}
	if journal == nil {
		return Exit(ExitFailed, fmt.Errorf("failback: %w", runErr))
	}
	rep := f.BuildReport(journal)
	path := "reports/" + journal.ID + "/report.json"
	if data, err := json.MarshalIndent(rep, "", "  "); err == nil {
		if err := store.Put(ctx, path, data); err != nil {
			app.Log.Warn("could not store the report", "key", path, "err", err)
		}
	}
	_ = app.Print(rep, func(w io.Writer) { printReport(w, rep, path) })
	if runErr != nil {
		return Exit(ExitFailed, fmt.Errorf("failback %s: %w (run it again to resume)", journal.ID, runErr))
	}
	return nil
}

func newPrepareCmd(app *App) *cobra.Command {
	var forceUnlock string
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "Build what must exist in the DR region before a disaster (network, IAM, static DNS)",
		Long: `prepare builds, idempotently, the DR region's network baseline (as the seed's
basic/: VPC, public/app/db subnets in two AZs, internet gateway and routes,
load balancer/app/db security groups, DB and cache subnet groups), the app's
IAM role and instance profile, and in failover-records DNS mode the DR load
balancer with the Route 53 failover record pair and health check. Where the
config names an existing network, it verifies it and lists what is missing.
A second run changes nothing and says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPrepare(cmd.Context(), app, forceUnlock) },
	}
	cmd.Flags().StringVar(&forceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	return cmd
}

func runPrepare(ctx context.Context, app *App, forceUnlock string) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	var res *recovery.PrepareResult
	err = app.withLock(ctx, cfg, store, "prepare", forceUnlock, func() error {
		var err error
		res, err = recovery.Prepare(ctx, cfg, env)
		return err
	})
	if res != nil {
		_ = app.Print(res, func(w io.Writer) {
			if len(res.Changes) == 0 && err == nil {
				fmt.Fprintf(w, "no changes: %s is already prepared for %s\n", res.Region, cfg.Stack)
			}
			for _, c := range res.Changes {
				fmt.Fprintf(w, "  + %s\n", c)
			}
			for _, m := range res.Missing {
				fmt.Fprintf(w, "  missing: %s\n", m)
			}
			if err == nil {
				fmt.Fprintf(w, "prepared %s: vpc %s", res.Region, res.Network.VPC)
				if res.LoadBalancerDNS != "" {
					fmt.Fprintf(w, ", DR load balancer %s", res.LoadBalancerDNS)
				}
				fmt.Fprintln(w)
			}
		})
	}
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return err
		}
		return Exit(ExitFailed, fmt.Errorf("prepare: %w", err))
	}
	return nil
}

// recoveryDeps loads what every recovery verb needs.
func (a *App) recoveryDeps(ctx context.Context) (*spec.Config, *awsenv.Env, state.Store, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	env, err := a.Env(ctx)
	if err != nil {
		return nil, nil, nil, Exit(ExitFailed, err)
	}
	store, err := a.openState(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, env, store, nil
}

func newPlanCmd(app *App) *cobra.Command {
	var point string
	var network bool
	cmd := &cobra.Command{
		Use:       "plan failover|drill|failback|teardown",
		Short:     "Show the step graph and what each step would do; change nothing",
		Long:      "plan prints the operation's steps, their dependencies, the resources they would create and the recovery points they would use. It takes no lock and changes nothing; for failover and drill it reads only the DR region.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"failover", "drill", "failback", "teardown"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlan(cmd.Context(), app, args[0], point, network)
		},
	}
	cmd.Flags().StringVar(&point, "point", "", "plan with this DB recovery point instead of the newest DR copy")
	cmd.Flags().BoolVar(&network, "network", false, "teardown: include what prepare made")
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
}

func runPlan(ctx context.Context, app *App, op, point string, network bool) error {
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
		r := recovery.New(cfg, env, recovery.Options{Kind: kind, PointID: point, Log: app.Log})
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
		if g, err = r.TeardownGraph(recovery.TeardownOptions{Network: network}); err != nil {
			return Exit(ExitFailed, err)
		}
	default:
		return Exit(ExitUsage, fmt.Errorf("plan: unknown operation %q (want failover, drill, failback or teardown)", op))
	}
	for _, s := range g.Steps() {
		out.Steps = append(out.Steps, planStep{ID: s.ID, Needs: s.Needs, Plan: s.Plan})
	}
	return app.Print(out, func(w io.Writer) {
		for _, warn := range out.Warnings {
			fmt.Fprintf(w, "WARNING: %s\n\n", warn)
		}
		fmt.Fprintf(w, "plan %s of %s in %s (nothing is changed):\n", op, cfg.Stack, cfg.DR.Region)
		for _, p := range out.Points {
			fmt.Fprintf(w, "  point: %s\n", p)
		}
		for _, s := range out.Steps {
			needs := ""
			if len(s.Needs) > 0 {
				needs = " (after " + strings.Join(s.Needs, ", ") + ")"
			}
			fmt.Fprintf(w, "  %-16s %s%s\n", s.ID, s.Plan, needs)
		}
	})
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

func newFailoverCmd(app *App) *cobra.Command {
	var o recoverFlags
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Rebuild the stack in the DR region from the newest copies and move DNS",
		Long: `failover restores the database from the newest DR snapshot copy (or --point),
creates the cache, launches the app from the newest DR AMI behind a load
balancer, and moves DNS as the configured mode says. It calls only the DR
region (and Route 53 in upsert mode). It is journaled: run it again after a
crash or a failure and it resumes. Without --yes it shows the plan and asks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecovery(cmd.Context(), app, recovery.KindFailover, o)
		},
	}
	o.bind(cmd)
	return cmd
}

type recoverFlags struct {
	point       string
	yes         bool
	forceUnlock string
	parallelism int
}

func (o *recoverFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.point, "point", "", "restore this DB recovery point instead of the newest DR copy")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&o.forceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	cmd.Flags().IntVar(&o.parallelism, "parallelism", 8, "steps run at once")
}

// confirm asks on a terminal; elsewhere it refuses without --yes, since a
// script that forgot the flag must not start a failover by accident.
func (a *App) confirm(stdin io.Reader, what string) error {
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return Exit(ExitUsage, fmt.Errorf("%s changes AWS resources: pass --yes to confirm (see `pilotlight plan` first)", what))
	}
	fmt.Fprintf(a.Stderr, "%s: type yes to continue: ", what)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return Exit(ExitFailed, fmt.Errorf("%s: not confirmed", what))
	}
	return nil
}

// isTerminal asks the terminal driver: /dev/null is a character device
// too, and must not count as a person at a keyboard.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func runRecovery(ctx context.Context, app *App, kind string, o recoverFlags) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := recovery.CheckUserData(cfg); err != nil {
		return Exit(ExitUsage, err)
	}
	if !o.yes {
		if err := runPlan(ctx, app, kind, o.point, false); err != nil {
			return err
		}
		if err := app.confirm(os.Stdin, kind); err != nil {
			return err
		}
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: kind, PointID: o.point, Log: app.Log})
	g, err := r.Graph()
	if err != nil {
		return Exit(ExitFailed, err)
	}
	var journal *runbook.Journal
	var runErr error
	err = app.withLock(ctx, cfg, store, kind, o.forceUnlock, func() error {
		runner := &runbook.Runner{Store: store, Parallelism: o.parallelism, Log: app.Log,
			Events: runbook.NewProgress(app.Stderr, app.JSON(), isTerminalWriter(app.Stderr))}
		journal, runErr = runner.Run(ctx, g, cfg.Stack, kind, map[string]string{"point": o.point})
		return nil
	})
	if err != nil {
		return err
	}
	if journal == nil {
		return Exit(ExitFailed, fmt.Errorf("%s: %w", kind, runErr))
	}
	rep := r.BuildReport(journal)
	path := "reports/" + journal.ID + "/report.json"
	if data, err := json.MarshalIndent(rep, "", "  "); err == nil {
		if err := store.Put(ctx, path, data); err != nil {
			app.Log.Warn("could not store the report", "key", path, "err", err)
		}
	}
	_ = app.Print(rep, func(w io.Writer) { printReport(w, rep, path) })
	if runErr != nil {
		return Exit(ExitFailed, fmt.Errorf("%s %s: %w (run it again to resume)", kind, journal.ID, runErr))
	}
	return nil
}

// abandonTornDown closes an unfinished run whose resources a teardown just
// deleted: resuming it would reuse outputs that name nothing.
func abandonTornDown(ctx context.Context, app *App, store state.Store, stack, kind string) {
	j, err := runbook.Unfinished(ctx, store, stack, kind)
	if err != nil || j == nil {
		return
	}
	if err := runbook.Abandon(ctx, store, j.ID, "torn down"); err != nil {
		app.Log.Warn("could not close the torn-down run", "run", j.ID, "err", err)
	}
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

func printReport(w io.Writer, rep *recovery.Report, path string) {
	fmt.Fprintf(w, "%s %s of %s in %s: %s\n", rep.Kind, rep.RunID, rep.Stack, rep.Region, rep.Phase)
	fmt.Fprintf(w, "  RTO %s\n", time.Duration(rep.RTOSeconds*float64(time.Second)).Round(time.Millisecond))
	for _, p := range rep.Points {
		fmt.Fprintf(w, "  RPO %-20s %s (point %s)\n", p.Resource, time.Duration(p.RPOSeconds*float64(time.Second)).Round(time.Second), p.ID)
	}
	for _, s := range rep.Steps {
		line := fmt.Sprintf("  step %-16s %-9s %6.1fs", s.ID, s.Phase, s.Seconds)
		if s.Error != "" {
			line += "  " + s.Error
		}
		fmt.Fprintln(w, line)
	}
	for _, r := range rep.Resources {
		fmt.Fprintf(w, "  created %-18s %s\n", r.Type, r.ID)
	}
	if rep.DNS != nil {
		if rec := rep.DNS["set_by_hand"]; rec != "" {
			fmt.Fprintf(w, "  DNS: set this record by hand: %s\n", rec)
		} else if rep.DNS["record"] != "" {
			fmt.Fprintf(w, "  DNS (%s): %s -> %s\n", rep.DNS["mode"], rep.DNS["record"], rep.DNS["target"])
		}
	}
	fmt.Fprintf(w, "  report: state %s\n", path)
}

func newTeardownCmd(app *App) *cobra.Command {
	var o recoverFlags
	var kind string
	var topts recovery.TeardownOptions
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "teardown",
		Short: "Delete exactly what a failover (or drill) created, in reverse order",
		Long: `teardown deletes what failover (or --kind drill) created, found by name and
checked by tag: resources without the stack's pilotlight tags are never
touched. What prepare made stays unless --network. The recovered database gets
a final snapshot unless --skip-final-snapshot. Resumable like failover.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTeardown(cmd.Context(), app, kind, topts, o, dryRun)
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "failover", "what to tear down: failover or drill")
	cmd.Flags().BoolVar(&topts.Network, "network", false, "also delete what prepare made")
	cmd.Flags().BoolVar(&topts.SkipFinalSnapshot, "skip-final-snapshot", false, "delete the recovered DB without a final snapshot")
	cmd.Flags().BoolVar(&topts.Force, "force", false, "tear down even while the domain still points at the DR stack")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted; change nothing")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&o.forceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	return cmd
}

func runTeardown(ctx context.Context, app *App, kind string, topts recovery.TeardownOptions, o recoverFlags, dryRun bool) error {
	if kind != recovery.KindFailover && kind != recovery.KindDrill {
		return Exit(ExitUsage, fmt.Errorf("--kind must be failover or drill, not %q", kind))
	}
	if dryRun {
		return runPlan(ctx, app, "teardown-"+kind, "", topts.Network)
	}
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if !o.yes {
		if err := app.confirm(os.Stdin, "teardown"); err != nil {
			return err
		}
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: kind, Log: app.Log})
	g, err := r.TeardownGraph(topts)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	var journal *runbook.Journal
	var runErr error
	err = app.withLock(ctx, cfg, store, "teardown", o.forceUnlock, func() error {
		runner := &runbook.Runner{Store: store, Log: app.Log, Events: runbook.NewProgress(app.Stderr, app.JSON(), isTerminalWriter(app.Stderr))}
		journal, runErr = runner.Run(ctx, g, cfg.Stack, "teardown-"+kind, nil)
		if runErr == nil {
			abandonTornDown(ctx, app, store, cfg.Stack, kind)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if journal == nil {
		return Exit(ExitFailed, runErr)
	}
	_ = app.Print(journal, func(w io.Writer) {
		fmt.Fprintf(w, "teardown of %s %s: %s\n", cfg.Stack, kind, journal.Phase)
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
	if runErr != nil {
		return Exit(ExitFailed, fmt.Errorf("teardown: %w (run it again to resume)", runErr))
	}
	return nil
}
