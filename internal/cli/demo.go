package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/demo"
)

func init() { register(newDemoCmd) }

// demoOptions are the demo verb's flags.
type demoOptions struct {
	KeepMoto bool
	Dir      string
	Objects  int
	DryRun   bool
	// AWSTime is --aws-time's speed-up; 0 runs on moto's time.
	AWSTime float64
	// Engine is --engine (demo.Options.Engine).
	Engine string
	// quiet keeps the domain packages' info logs out of the story's
	// progress lines unless --log-level was given.
	quiet bool
}

func newDemoCmd(app *App) *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole story on a local AWS emulator: production, protect, outage, failover, checks, teardown",
		Long: `demo shows pilotlight end to end with no AWS account. With AWS_ENDPOINT_URL
unset it starts moto_server on a free loopback port for itself (and stops it at
the end); with AWS_ENDPOINT_URL set it uses that emulator, in a fresh account of
its own, and deletes everything it made there. It never calls AWS.

  1. builds the seed's WordPress production in cn-northwest-1: VPC, subnets,
     gateways, security groups, RDS MySQL, ElastiCache Redis, launch template,
     auto scaling group behind an ALB, an S3 media bucket with sample uploads,
     and blog.example.com in Route 53;
  2. protects it: prepare, replicate setup, sync and verify, one backup cycle;
  3. makes cn-northwest-1 unreachable (a fault proxy drops every connection,
     Route 53's control plane included), fails over to cn-north-1, and checks
     what a drill checks, plus that nothing called the dead region;
  4. prints RTO and RPO and the HTML report's path, tears the DR stack down.

The config it writes (examples/wordpress/pilotlight.yaml with the production
load balancer filled in), the state and the report stay in --dir. Exit 0 only
if every step ran and every check passed.

On moto every resource is ready in the answer to its create call. With
--aws-time the demo runs on AWS's clock (docs/aws-time.md): snapshots are
creating, copies copying, restores creating without an endpoint, AMIs
pending, load balancers provisioning, each for as long as AWS takes (a
table of documented or estimated durations), sped up by FACTOR (default
120: an AWS minute lasts half a second). It ends with the failover's RTO at
AWS durations, its critical path and the seed's manual sequence for the
same stack, and the RPO of each resource; these are modelled from the
table, not measured on AWS.`,
		Example: `  pilotlight demo
  pilotlight demo -o json > demo.json
  pilotlight demo --aws-time
  pilotlight demo --aws-time=600
  pilotlight demo --engine auto
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 pilotlight demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.quiet = !cmd.Flag("log-level").Changed
			if cmd.Flag("aws-time").Changed && opts.AWSTime < 1 {
				return Exit(ExitUsage, fmt.Errorf("--aws-time=FACTOR: FACTOR is how many times faster than AWS the demo runs, at least 1, not %g", opts.AWSTime))
			}
			switch opts.Engine {
			case "", "snapshot-copy", "aws-backup", "auto":
			default:
				return Exit(ExitUsage, fmt.Errorf("--engine %q: want snapshot-copy, aws-backup or auto", opts.Engine))
			}
			return runDemo(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.KeepMoto, "keep-moto", false, "leave the demo's moto_server running after the story, until Ctrl-C, to explore it")
	f.StringVar(&opts.Dir, "dir", "", "directory for the demo's config, state and report (default: a new temporary directory)")
	f.IntVar(&opts.Objects, "objects", 300, "sample media files in the production bucket")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the story's steps and the commands they stand for; start and change nothing")
	f.Float64Var(&opts.AWSTime, "aws-time", 0, "run on AWS's clock, FACTOR times faster than AWS (--aws-time or --aws-time=FACTOR), and report RTO and RPO at AWS durations")
	f.Lookup("aws-time").NoOptDefVal = strconv.FormatFloat(demo.DefaultAWSTime, 'f', -1, 64)
	f.StringVar(&opts.Engine, "engine", "", "the database's copy engine: snapshot-copy (as the example ships), aws-backup, or auto "+
		"(the emulator then says, as AWS does of Beijing and Ningxia, that DB snapshots cannot be copied between the regions)")
	return cmd
}

// demoPlan is what --dry-run prints: the story and the command a user runs
// for each step on a real stack.
var demoPlan = [][2]string{
	{"start moto_server on a free loopback port (unless AWS_ENDPOINT_URL is set)", ""},
	{"build the seed's production in cn-northwest-1", "(the seed's terraform apply of basic/, database/, app/)"},
	{"prepare the DR region", "pilotlight prepare"},
	{"replicate setup", "pilotlight replicate setup"},
	{"replicate sync", "pilotlight replicate sync"},
	{"replicate verify", "pilotlight replicate verify"},
	{"backup: one protect cycle", "pilotlight backup"},
	{"make cn-northwest-1 unreachable", ""},
	{"failover to cn-north-1", "pilotlight failover --yes"},
	{"verify the DR stack", "pilotlight drill (checks the same)"},
	{"teardown, prepared network included", "pilotlight teardown --network --skip-final-snapshot --force --yes"},
	{"delete production and the recovery points (external emulator only), check nothing is left", ""},
	{"stop moto_server", ""},
}

func runDemo(ctx context.Context, app *App, opts demoOptions) error {
	if opts.Objects < 1 {
		return Exit(ExitUsage, fmt.Errorf("--objects must be at least 1, not %d", opts.Objects))
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if app.EnvOptions != nil && app.EnvOptions.Endpoint != "" {
		endpoint = app.EnvOptions.Endpoint
	}
	if opts.DryRun {
		type planStep struct {
			Step    string `json:"step"`
			Command string `json:"command,omitempty"`
		}
		var plan []planStep
		for _, p := range demoPlan {
			plan = append(plan, planStep{p[0], p[1]})
		}
		return app.Print(plan, func(w io.Writer) {
			fmt.Fprintln(w, "dry run: the demo would (nothing is started or changed):")
			for i, p := range plan {
				line := fmt.Sprintf("  %2d. %s", i+1, p.Step)
				if p.Command != "" {
					line += "   $ " + p.Command
				}
				fmt.Fprintln(w, line)
			}
		})
	}
	if opts.KeepMoto && endpoint != "" {
		return Exit(ExitUsage, fmt.Errorf("--keep-moto keeps the demo's own moto_server; with AWS_ENDPOINT_URL=%s the demo starts none", endpoint))
	}
	log := app.Log
	if opts.quiet {
		o := &slog.HandlerOptions{Level: slog.LevelWarn}
		if app.JSON() {
			log = slog.New(slog.NewJSONHandler(app.Stderr, o))
		} else {
			log = slog.New(slog.NewTextHandler(app.Stderr, o))
		}
	}
	res, err := demo.Run(ctx, demo.Options{
		Endpoint: endpoint, Dir: opts.Dir, KeepMoto: opts.KeepMoto, Objects: opts.Objects,
		Progress: app.Stderr, JSON: app.JSON(), Log: log, AWSTime: opts.AWSTime, Engine: opts.Engine,
	})
	if err != nil {
		return Exit(ExitFailed, fmt.Errorf("demo: %w", err))
	}
	if perr := app.Print(res, func(w io.Writer) { printDemo(w, res) }); perr != nil {
		return perr
	}
	if u := res.MotoURL(); u != "" {
		fmt.Fprintf(app.Stderr, "moto_server is still up: try  AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws rds describe-db-snapshots --region %s\npress Ctrl-C to stop it\n", u, res.DR)
		res.Wait(ctx)
	}
	if !res.Passed {
		return Exit(ExitFailed, fmt.Errorf("demo: %s", failedChecks(res)))
	}
	return nil
}

func printDemo(w io.Writer, res *demo.Result) {
	fmt.Fprintf(w, "\npilotlight demo: %s -> %s on %s, %s\n", res.Primary, res.DR, res.Endpoint, (time.Duration(res.Seconds * float64(time.Second))).Round(100*time.Millisecond))
	for _, c := range res.Checks {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-52s %s\n", mark, c.Name, c.Detail)
	}
	if rep := res.Report; rep != nil {
		fmt.Fprintf(w, "  RTO %s\n", (time.Duration(rep.RTOSeconds * float64(time.Second))).Round(time.Millisecond))
		for _, p := range rep.Points {
			fmt.Fprintf(w, "  RPO %-14s %s (%s)\n", p.Resource, (time.Duration(p.RPOSeconds * float64(time.Second))).Round(time.Second), p.ID)
		}
	}
	if res.ReportHTML != "" {
		fmt.Fprintf(w, "  report: %s\n", res.ReportHTML)
	}
	fmt.Fprintf(w, "  config: %s\n", res.Config)
	if res.Passed {
		fmt.Fprintln(w, "demo PASSED: every check passed")
	} else {
		fmt.Fprintln(w, "demo FAILED")
	}
	if a := res.AWSTime; a != nil {
		fmt.Fprintf(w, "at AWS durations (modelled from docs/aws-time.md's table, %gx faster here):\n", a.Factor)
		for _, p := range a.RPO {
			fmt.Fprintf(w, "  RPO %-14s %s\n", p.Resource, p.Age.Round(time.Second))
		}
		fmt.Fprintf(w, "  %s\n", a.BootLine())
		fmt.Fprintln(w, a.Line())
	}
}

func failedChecks(res *demo.Result) string {
	var names []string
	for _, c := range res.Checks {
		if !c.Pass {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return "a step failed"
	}
	return "failed: " + strings.Join(names, "; ")
}
