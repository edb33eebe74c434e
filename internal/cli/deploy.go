package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/deploy"
)

func init() { register(newDeployCmd) }

// deployOptions are the deploy verb's flags.
type deployOptions struct {
	DryRun   bool
	Binary   string
	Source   string
	Arch     string
	Region   string
	MemoryMB int32
	Timeout  time.Duration
	ZipOnly  string
}

func newDeployCmd(app *App) *cobra.Command {
	var opts deployOptions
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Install pilotlight as a Lambda function with one EventBridge Scheduler schedule per resource",
		Long: `deploy makes pilotlight run itself in AWS, in the DR region by default so
that the schedules survive the primary region:

  - a zip: bootstrap (provided.al2023), the pilotlight binary, the config;
    the binary is --binary, else this executable when it is a Linux one,
    else a fresh go build of --source (default: the pilotlight checkout
    around the working directory) for --arch;
  - the function's IAM role with the policy of iam-policy --for
    backup,replicate (plus its own log group);
  - the function (provided.al2023, handler bootstrap);
  - a Scheduler role that may only invoke that function, and one schedule
    per protected resource with the resource's every: as its expression and
    {"action":"backup"|"verify","only":[name]} as input. Schedules of
    resources no longer in the config are deleted;
  - CloudWatch alarms on the metrics the function writes (embedded metric
    format, namespace Pilotlight, dimensions Stack and Resource): per
    database and image, RPOSeconds above its target_rpo (or no report for
    that long); per resource, ConsecutiveFailures of two (two failed runs in
    a row; the alarm stays until a run succeeds).
    They notify alarms.sns_topic from the config, else an SNS topic
    <stack>-pilotlight-alarms that deploy makes. Subscribe on-call to it.

It reads before it writes: a second run changes nothing and says so.
--dry-run lists what would change. --zip-only FILE writes the zip and stops
(for the Terraform module in deploy/terraform).`,
		Example: `  pilotlight deploy --dry-run
  pilotlight deploy --binary dist/pilotlight-linux-arm64
  pilotlight deploy --zip-only pilotlight.zip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeploy(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would change; change nothing")
	f.StringVar(&opts.Binary, "binary", "", "a Linux build of pilotlight to deploy")
	f.StringVar(&opts.Source, "source", "", "pilotlight source to build the binary from")
	f.StringVar(&opts.Arch, "arch", "", "Lambda architecture: amd64 (x86_64) or arm64 (default: the binary's, or amd64 when building)")
	f.StringVar(&opts.Region, "region", "", "region to deploy to (default: the DR region)")
	f.Int32Var(&opts.MemoryMB, "memory", 256, "function memory in MB")
	f.DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "function timeout (at most 15m; a longer copy is resumed by the next run)")
	f.StringVar(&opts.ZipOnly, "zip-only", "", "write the Lambda zip to this file and stop")
	return cmd
}

func runDeploy(ctx context.Context, app *App, opts deployOptions) error {
	if opts.Timeout <= 0 || opts.Timeout > 15*time.Minute {
		return Exit(ExitUsage, fmt.Errorf("--timeout %s: Lambda allows up to 15m", opts.Timeout))
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	pkg, err := deploy.BuildPackage(ctx, cfg, opts.Binary, opts.Source, opts.Arch)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	for _, w := range pkg.Warnings {
		app.Log.Warn(w)
	}
	if opts.ZipOnly != "" {
		// The package carries pilotlight.yaml and the user-data template:
		// the owner's alone, as init writes them.
		if err := os.WriteFile(opts.ZipOnly, pkg.Zip, 0o600); err != nil {
			return Exit(ExitFailed, err)
		}
		if err := os.Chmod(opts.ZipOnly, 0o600); err != nil {
			return Exit(ExitFailed, err)
		}
		return app.Print(map[string]any{"zip": opts.ZipOnly, "sha256": pkg.SHA256, "arch": pkg.Arch, "files": pkg.Files, "bytes": len(pkg.Zip)},
			func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%d bytes, %s, sha256 %s)\n", opts.ZipOnly, len(pkg.Zip), pkg.Arch, pkg.SHA256)
			})
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	res, err := deploy.Deploy(ctx, env, cfg, deploy.Options{Region: opts.Region, Package: pkg, MemoryMB: opts.MemoryMB,
		Timeout: opts.Timeout, DryRun: opts.DryRun, Log: app.Log})
	if err != nil {
		return Exit(ExitFailed, err)
	}
	return app.Print(res, func(w io.Writer) {
		fmt.Fprintf(w, "function %s in %s (%s, code %s)\n", res.Function, res.Region, res.Arch, res.CodeSHA256)
		for _, s := range res.Schedules {
			fmt.Fprintf(w, "  schedule %-32s %-22s %s\n", s.Name, s.Expression, s.Input)
		}
		for _, a := range res.Alarms {
			fmt.Fprintf(w, "  alarm    %-44s %s %s > %g\n", a.Name, a.Statistic, a.Metric, a.Threshold)
		}
		if res.AlarmTopic != "" {
			fmt.Fprintf(w, "  alarms notify %s (subscribe your on-call to it)\n", res.AlarmTopic)
		}
		if res.Unchanged() {
			fmt.Fprintln(w, "no changes: everything is deployed as configured")
			return
		}
		for _, c := range res.Changes {
			fmt.Fprintln(w, "  "+c)
		}
	})
}
