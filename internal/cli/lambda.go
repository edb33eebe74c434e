package cli

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newLambdaCmd) }

// InLambda reports whether the process was started by the Lambda runtime
// (provided.al2023 sets AWS_LAMBDA_RUNTIME_API for the bootstrap).
func InLambda() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// LambdaMain runs the binary as a Lambda function: Main calls it when
// InLambda, so that the binary itself can be a bootstrap. The config is
// $PILOTLIGHT_CONFIG, else pilotlight.yaml in $LAMBDA_TASK_ROOT.
func LambdaMain() int {
	cfg := os.Getenv("PILOTLIGHT_CONFIG")
	if cfg == "" {
		root := os.Getenv("LAMBDA_TASK_ROOT")
		if root == "" {
			root = "."
		}
		cfg = root + "/pilotlight.yaml"
	}
	return Run(context.Background(), []string{"lambda", "--config", cfg, "--output", "json"}, os.Stdout, os.Stderr)
}

func newLambdaCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:    "lambda",
		Short:  "Run as an AWS Lambda handler for EventBridge Scheduler events (the deployed bootstrap runs this)",
		Hidden: true,
		Long: `lambda serves Lambda invocations until the runtime stops the process. Events:
  {"action":"backup","only":["wordpress-db"],"tick":"2026-12-07T06:00:00Z"}
      one step of each database's and image's protect job: start a point,
      start its copy when AWS's copy quota has a slot, prune once it is in
      the DR region; a copy still running is pending, not a failure
  {"action":"verify","only":["media"]}
      verify buckets (resuming a verify that ran out of time), back-fill
      what is missing
"only" is optional; "tick" is the schedule's time, the same on every retry,
so a retried invocation joins the job it started (without it, Lambda's
request id, kept across retries, stands in). An invocation never waits for
a copy and fails only when a resource's step failed. Each run is recorded in
the state store as serve's are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLambda(cmd.Context(), app) },
	}
}

func runLambda(ctx context.Context, app *App) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(cfg.State.Path, "s3://") && InLambda() {
		// The task root is read-only; /tmp is the only writable place.
		app.Log.Warn("state is local: keeping it in /tmp, where it is lost between cold starts; use an s3:// state path")
		cfg.State.Path = "/tmp/pilotlight-state"
	}
	jobs, err := serve.Jobs(cfg, nil)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	store, err := state.Open(ctx, cfg, env)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	defer store.Close()
	log := app.Log
	if log == nil {
		log = slog.Default()
	}
	h := &serve.Lambda{Jobs: jobs, Store: store, Log: log, Metrics: &serve.EMF{Stack: cfg.Stack, W: app.Stdout},
		Runner: &serve.AWSRunner{Env: env, Cfg: cfg, Store: store, Log: log}}
	lambda.StartWithOptions(h.Handle, lambda.WithContext(ctx))
	return nil
}
