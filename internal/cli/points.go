package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newPointsCmd) }

// pointsOptions are the points verb's flags.
type pointsOptions struct {
	Region string
	Only   []string
}

func newPointsCmd(app *App) *cobra.Command {
	var opts pointsOptions
	cmd := &cobra.Command{
		Use:   "points",
		Short: "List recovery points per resource and region, with copy state, size, age and RPO",
		Long: `points is the catalogue of recovery points: for every protected database and
image, its snapshots or AMIs in the primary and DR regions with creation
time, copy state, size and age. Points pilotlight did not make are listed as
foreign; retention never touches them.

A resource's RPO is the age of its newest complete DR point: the data a
failover would lose now. By default both regions are read; when the primary
region cannot be read (an outage), points says so and lists the DR region,
which is all a failover uses. --region dr calls only the DR region.`,
		Example: `  pilotlight points
  pilotlight points --region dr -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPoints(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.Region, "region", "auto", "primary, dr, both, or auto (both, or dr alone when the primary cannot be read)")
	f.StringArrayVar(&opts.Only, "only", nil, "only this database id or image name (repeatable)")
	return cmd
}

// pointsResult is the catalogue with what points adds when it had to fall
// back to the DR region.
type pointsResult struct {
	*points.Catalogue
	PrimaryUnreachable bool     `json:"primary_unreachable,omitempty"`
	Warnings           []string `json:"warnings,omitempty"`
	// Kept are snapshots no retention rule prunes (failback's, teardown's
	// final one): listed so that they are not forgotten and paid for.
	Kept []readiness.Kept `json:"kept"`
	// Jobs are the newest protect job of each resource (from the state
	// store), with its phase and age.
	Jobs []protectJob `json:"jobs,omitempty"`
}

// protectJob is a recorded protect job with its age now.
type protectJob struct {
	points.Job
	Age time.Duration `json:"age_ns"`
}

// readJobs reads the stack's protect jobs from the state store; a store
// that cannot be read is a warning, as the points themselves are in AWS.
func readJobs(ctx context.Context, app *App, cfg *spec.Config, only []string) ([]protectJob, string) {
	store, err := app.openState(ctx, cfg)
	if err != nil {
		return nil, fmt.Sprintf("protect jobs not read from the state store %s: %v", cfg.State.Path, err)
	}
	defer store.Close()
	jobs, err := points.Jobs(ctx, store, cfg.Stack)
	if err != nil {
		return nil, fmt.Sprintf("protect jobs not read: %v", err)
	}
	want := map[string]bool{}
	for _, o := range only {
		want[o] = true
	}
	now := time.Now()
	var out []protectJob
	for _, j := range jobs {
		if len(want) == 0 || want[j.Resource] {
			out = append(out, protectJob{Job: j, Age: j.Age(now)})
		}
	}
	return out, ""
}

// jobLine says what a resource's protect job is doing, or "" when its
// newest job is done.
func jobLine(jobs []protectJob, resource string) string {
	for _, j := range jobs {
		if j.Resource != resource || j.Phase == points.PhaseDone {
			continue
		}
		s := fmt.Sprintf("protect job %s for %s", j.Phase, pointsAge(j.Age))
		if j.Phase == points.PhaseFailed {
			s = fmt.Sprintf("protect job failed %s after it started: %s", pointsAge(j.Age), j.Error)
		}
		if j.Point != "" {
			s += " (point " + j.Point + ")"
		}
		if j.Engine != "" && j.Engine != points.EngineSnapshotCopy {
			s += ", engine " + j.Engine
		}
		return s
	}
	return ""
}

func runPoints(ctx context.Context, app *App, opts pointsOptions) error {
	switch opts.Region {
	case "":
		opts.Region = "auto"
	case "auto", "primary", "dr", "both":
	default:
		return Exit(ExitUsage, fmt.Errorf("--region must be auto, primary, dr or both, not %q", opts.Region))
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	if _, err := cfg.Select(opts.Only, spec.KindPoints); err != nil {
		return Exit(ExitUsage, err)
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	region := opts.Region
	if region == "auto" {
		region = "both"
	}
	res := pointsResult{}
	cat, err := points.ReadCatalogue(ctx, env, cfg, points.CatalogueOptions{Region: region, Only: opts.Only})
	if err != nil && opts.Region == "auto" {
		// The DR list is read in every view, so a DR-only read that works
		// where both failed means the primary is what did not answer.
		if drCat, drErr := points.ReadCatalogue(ctx, env, cfg, points.CatalogueOptions{Region: "dr", Only: opts.Only}); drErr == nil {
			res.PrimaryUnreachable = true
			res.Warnings = append(res.Warnings, fmt.Sprintf("the primary region %s cannot be read (%v): listing the DR region %s only, which is what a failover uses",
				cfg.Primary.Region, err, cfg.DR.Region))
			cat, err = drCat, nil
		}
	}
	if cat == nil {
		return Exit(ExitFailed, err)
	}
	res.Catalogue = cat
	regions := []string{cfg.DR.Region}
	if cat.Region != "dr" && !res.PrimaryUnreachable {
		regions = append(regions, cfg.Primary.Region)
	}
	if cat.Region == "primary" {
		regions = []string{cfg.Primary.Region}
	}
	kept, kerrs := readiness.ListKept(ctx, env, cfg, regions)
	res.Kept = append([]readiness.Kept{}, kept...)
	res.Warnings = append(res.Warnings, kerrs...)
	var jwarn string
	if res.Jobs, jwarn = readJobs(ctx, app, cfg, opts.Only); jwarn != "" {
		res.Warnings = append(res.Warnings, jwarn)
	}
	if perr := app.Print(res, func(w io.Writer) {
		for _, warn := range res.Warnings {
			fmt.Fprintf(w, "WARNING: %s\n\n", warn)
		}
		printPointsCatalogue(w, cat, res.Jobs)
		printKept(w, res.Kept)
	}); perr != nil {
		return perr
	}
	return Exit(ExitFailed, err)
}

func printPointsCatalogue(w io.Writer, cat *points.Catalogue, jobs []protectJob) {
	for i, r := range cat.Resources {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (%s): %s\n", r.Resource, r.Kind, pointsRPOLine(r))
		if l := jobLine(jobs, r.Resource); l != "" {
			fmt.Fprintf(w, "  %s\n", l)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", r.Error)
			continue
		}
		if len(r.Points) == 0 {
			fmt.Fprintln(w, "  no recovery points")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  REGION\tPOINT\tCREATED (UTC)\tSTATE\tSIZE\tAGE\t")
		for _, p := range r.Points {
			id := p.ID
			if p.Name != "" && p.Name != p.ID {
				id += " (" + p.Name + ")"
			}
			state := p.CopyState
			if !p.Managed {
				state = "foreign, " + p.Status
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d GB\t%s\t\n", p.Region, id, p.Created.UTC().Format("2006-01-02 15:04:05"),
				state, p.SizeGB, pointsAge(p.Age))
		}
		tw.Flush()
	}
}

func printKept(w io.Writer, kept []readiness.Kept) {
	if len(kept) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "kept outside retention (no rule prunes these; delete them by hand when no longer needed):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  REGION\tSNAPSHOT\tCREATED (UTC)\tSIZE\tWHY\t")
	for _, k := range kept {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d GB\t%s\t\n", k.Region, k.ID, k.Created.Format("2006-01-02 15:04:05"), k.SizeGB, k.Why)
	}
	tw.Flush()
}

func pointsRPOLine(r points.ResourcePoints) string {
	target := ""
	if r.TargetRPO > 0 {
		target = " (target " + pointsAge(r.TargetRPO) + ")"
	}
	if r.NewestDR == "" {
		if r.Error != "" {
			return "RPO unknown"
		}
		return "RPO none: no complete DR point" + target
	}
	s := "RPO " + pointsAge(r.RPO) + target + ", newest DR point " + r.NewestDR
	if r.OverTarget {
		s += ": OVER TARGET"
	}
	return s
}

// pointsAge prints a duration as 45s, 12m, 3h05m or 2d04h.
func pointsAge(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + pointsAge(-d)
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}
