package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newFailoverCmd) }

// recoverOptions are the flags failover, drill and failback share.
type recoverOptions struct {
	Point       string
	Yes         bool
	ForceUnlock string
	Parallelism int
}

func (o *recoverOptions) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Point, "point", "", "restore this DB recovery point instead of the newest DR copy")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&o.ForceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	cmd.Flags().IntVar(&o.Parallelism, "parallelism", 8, "steps run at once")
}

// failoverOptions are the failover verb's flags.
type failoverOptions struct{ recoverOptions }

func newFailoverCmd(app *App) *cobra.Command {
	var o failoverOptions
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Rebuild the stack in the DR region from the newest copies and move DNS",
		Long: `failover restores the database from the newest DR snapshot copy (or --point),
creates the cache, launches the app from the newest DR AMI behind a load
balancer, and moves DNS as the configured mode says. It calls only the DR
region (and Route 53 in upsert mode). It is journaled: run it again after a
crash or a failure and it resumes. Without --yes, at a terminal it shows the
plan and asks; elsewhere (a script, a pipe) it refuses before any AWS call,
so pass --yes there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFailover(cmd.Context(), app, o)
		},
	}
	o.bind(cmd)
	return cmd
}

func runFailover(ctx context.Context, app *App, o failoverOptions) error {
	return runRecover(ctx, app, operation.KindFailover, o.recoverOptions)
}

// runRecover is failover and failback: confirm, then operation.Recover,
// then print its report.
func runRecover(ctx context.Context, app *App, kind operation.Kind, o recoverOptions) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if kind == operation.KindFailover {
		if err := recovery.CheckUserData(cfg); err != nil {
			return Exit(ExitUsage, err)
		}
	}
	if !o.Yes {
		// Refuse before the plan: a plan printed and then refused reads as
		// if the failover had started.
		if !app.stdinIsTerminal() {
			return Exit(ExitUsage, fmt.Errorf("%s needs --yes: it asks for confirmation only at a terminal, and stdin is not one (see `pilotlight plan %s` first)", kind, kind))
		}
		if err := runPlan(ctx, app, planOptions{Operation: string(kind), Point: o.Point}); err != nil {
			return err
		}
		if err := app.confirm(os.Stdin, string(kind)); err != nil {
			return err
		}
	}
	out, err := operation.Recover(ctx, app.opDeps(cfg, store, o.ForceUnlock), cfg, env, kind,
		operation.RecoverOptions{Point: o.Point, GraphOptions: app.graphOptions(o.Parallelism)})
	if out != nil && out.Stored != nil {
		_ = app.Print(out.Stored.Report, func(w io.Writer) { printReport(w, out.Stored.Report, out.ReportKey()) })
	}
	return opExit(err)
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

// opDeps is what operation needs from the CLI.
func (a *App) opDeps(cfg *spec.Config, store state.Store, forceUnlock string) operation.Deps {
	return operation.Deps{Store: store, Stack: cfg.Stack, Log: a.Log, ForceUnlock: forceUnlock}
}

// graphOptions shows a graph operation's progress on stderr.
func (a *App) graphOptions(parallelism int) operation.GraphOptions {
	return operation.GraphOptions{Parallelism: parallelism,
		Events: runbook.NewProgress(a.Stderr, a.JSON(), isTerminalWriter(a.Stderr))}
}

// opExit maps an operation's error to the CLI's exit codes: a lock held
// by another operation exits 3.
func opExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	if operation.IsLock(err) {
		return Exit(ExitLockHeld, err)
	}
	return Exit(ExitFailed, err)
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

// stdinIsTerminal reports whether a person can answer a confirmation.
func (a *App) stdinIsTerminal() bool { return isTerminal(os.Stdin) }

// isTerminal asks the terminal driver: /dev/null is a character device
// too, and must not count as a person at a keyboard.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
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
	if path != "" {
		// The stored key means nothing at a shell; the command opens it.
		fmt.Fprintf(w, "  report: pilotlight reports %s --html %s.html\n", rep.RunID, rep.RunID)
	}
}
