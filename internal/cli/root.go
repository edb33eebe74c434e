// Package cli is pilotlight's command tree: one file per verb, each with
// its flags, help and a run function callable from tests. It holds no AWS
// logic; verbs call the domain packages under internal/.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Exit codes, documented in the README.
const (
	ExitOK       = 0
	ExitFailed   = 1 // the operation ran and failed, or a check is not met
	ExitUsage    = 2 // bad flags or an invalid config
	ExitLockHeld = 3 // another operation holds the stack's lock
)

// ExitError carries an exit code through cobra.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code. An error that already carries one
// keeps it: the code given closest to the cause is the most specific (a
// bad --profile found while building the AWS access is a usage error even
// where the verb treats AWS access failures as failures).
func Exit(code int, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: code, Err: err}
}

// App is the state shared by every verb: global flags, outputs, logger.
type App struct {
	ConfigPath string
	Output     string
	LogLevel   string
	Profile    string

	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger

	// EnvOptions lets tests and the demo point AWS calls somewhere without
	// touching the process environment; nil uses the standard chain.
	EnvOptions *awsenv.Options
}

// JSON reports whether machine output was asked for.
func (a *App) JSON() bool { return a.Output == "json" }

// Print writes v as indented JSON with --output json, else calls text.
func (a *App) Print(v any, text func(w io.Writer)) error {
	if a.JSON() {
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(a.Stdout)
	return nil
}

// LoadConfig reads and validates --config; problems exit 2.
func (a *App) LoadConfig() (*spec.Config, error) {
	cfg, err := spec.Load(a.ConfigPath)
	if err != nil {
		return nil, Exit(ExitUsage, err)
	}
	for _, w := range cfg.Warnings() {
		a.Log.Warn(w)
	}
	return cfg, nil
}

// Env builds the AWS access for this run.
func (a *App) Env(ctx context.Context) (*awsenv.Env, error) {
	opts := awsenv.Options{Profile: a.Profile}
	if a.EnvOptions != nil {
		opts = *a.EnvOptions
		if opts.Profile == "" {
			opts.Profile = a.Profile
		}
	}
	env, err := awsenv.Load(ctx, opts)
	if errors.Is(err, awsenv.ErrUnknownProfile) {
		return nil, Exit(ExitUsage, err)
	}
	return env, err
}

// verbs registers each verb's constructor; every verb file adds itself in
// an init function so that adding a verb touches no other file.
var verbs []func(*App) *cobra.Command

func register(f func(*App) *cobra.Command) { verbs = append(verbs, f) }

// NewRoot builds the command tree around app.
func NewRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "pilotlight",
		Short: "Cross-region pilot-light disaster recovery for an AWS stack",
		Long: `pilotlight keeps a stack's recovery points (RDS snapshots, AMIs, S3 replicas)
copied to a DR region, and rebuilds the stack there with one command when the
primary region fails, without calling the failed region.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return app.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&app.ConfigPath, "config", "pilotlight.yaml", "config file")
	f.StringVarP(&app.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&app.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&app.Profile, "profile", "", "AWS shared-config profile")
	cmds := make([]*cobra.Command, 0, len(verbs))
	for _, v := range verbs {
		cmds = append(cmds, v(app))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

func (a *App) setup() error {
	if a.Output != "text" && a.Output != "json" {
		return Exit(ExitUsage, fmt.Errorf("--output must be text or json, not %q", a.Output))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.LogLevel)); err != nil {
		return Exit(ExitUsage, fmt.Errorf("--log-level: %w", err))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if a.JSON() {
		a.Log = slog.New(slog.NewJSONHandler(a.Stderr, opts))
	} else {
		a.Log = slog.New(slog.NewTextHandler(a.Stderr, opts))
	}
	return nil
}

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &App{Stdout: stdout, Stderr: stderr, Log: slog.New(slog.NewTextHandler(stderr, nil))}
	return RunApp(ctx, app, args)
}

// RunApp is Run with a prepared App (tests set EnvOptions).
func RunApp(ctx context.Context, app *App, args []string) int {
	root := NewRoot(app)
	root.SetArgs(args)
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitFailed
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	} else if isUsageError(err) {
		code = ExitUsage
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	if ps, ok := spec.AsProblems(err); ok {
		msg = ps.Error() + "\n" + fmt.Sprintf("%d problem(s) in %s\n", len(ps), app.ConfigPath)
	} else {
		msg = "error: " + msg
	}
	fmt.Fprint(app.Stderr, msg)
	return code
}

func isUsageError(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "accepts ") || strings.HasPrefix(s, "requires ")
}

// Main is the whole program; cmd/pilotlight only calls it.
func Main() {
	// The same binary is the Lambda function's bootstrap.
	if InLambda() {
		os.Exit(LambdaMain())
	}
	ctx, stop := signalContext()
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
