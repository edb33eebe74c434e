package recovery

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/s3sync"
)

// Verify checks what a drill (or failover) built against what a recovery
// promises: each check says what it saw, so a failed one is actionable.
// It reads the DR region, and the primary only for the bucket comparison.
func (r *Recovery) Verify(ctx context.Context, j *runbook.Journal, now time.Time) []report.Check {
	cfg := r.cfg
	out := map[string]runbook.Outputs{}
	for _, s := range j.Steps {
		out[s.ID] = s.Outputs
	}
	var checks []report.Check
	add := func(name string, pass bool, format string, args ...any) {
		checks = append(checks, report.Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)})
	}
	if d := cfg.Recover.Database; d != nil {
		used := out[StepPoints]["db_point"]
		newest, err := points.NewestDR(ctx, r.env, cfg, d.From)
		switch {
		case err != nil:
			add("database restored from the newest DR copy", false, "%v", err)
		case used != newest.ID && r.opts.PointID == "":
			add("database restored from the newest DR copy", false, "restored %s but the newest DR copy is %s", used, newest.ID)
		default:
			db, err := describeInstance(ctx, r.c, out[StepDatabase]["db_id"])
			cl, _ := describeCluster(ctx, r.c, out[StepDatabase]["db_id"])
			ok := (db != nil && aws.ToString(db.DBInstanceStatus) == "available") || (cl != nil && aws.ToString(cl.Status) == "available")
			add("database restored from the newest DR copy", ok && err == nil, "%s from %s, available=%v", out[StepDatabase]["db_id"], used, ok)
		}
		if db, ok := cfg.Database(d.From); ok {
			r.rpoCheck(&checks, "database RPO", out[StepPoints]["db_point_time"], db.TargetRPO.D, now)
		}
	}
	if cfg.Recover.Cache != nil {
		rg, err := describeCache(ctx, r.c, out[StepCache]["cache_id"])
		ok := err == nil && rg != nil && aws.ToString(rg.Status) == "available"
		status := "missing"
		if rg != nil {
			status = aws.ToString(rg.Status)
		}
		add("cache available", ok, "%s is %s", out[StepCache]["cache_id"], status)
	}
	if a := cfg.Recover.App; a != nil {
		r.appChecks(ctx, out, add)
		if im, ok := cfg.Image(a.ImageFrom); ok {
			r.rpoCheck(&checks, "DR AMI age", out[StepPoints]["ami_point_time"], im.TargetRPO.D, now)
		}
	}
	for _, b := range cfg.Protect.Buckets {
		if r.opts.Kind == KindFailover {
			// After a real failover the source may be gone: check what the
			// recovered app will read, and call nothing in the primary.
			c := s3.NewFromConfig(r.env.For(cfg.DR.Region), func(o *s3.Options) { o.UsePathStyle = r.env.EndpointOverridden() })
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Replica), MaxKeys: aws.Int32(1)})
			add("replica "+b.Replica+" readable in "+cfg.DR.Region, err == nil && aws.ToInt32(out.KeyCount) > 0,
				"source not compared: failover never calls the primary region (%v)", errText(err))
			continue
		}
		res, err := s3sync.Verify(ctx, r.env, cfg, b)
		switch {
		case err != nil:
			add("replica "+b.Replica+" converged", false, "%v", err)
		default:
			add("replica "+b.Replica+" converged", res.Converged, "%d source objects, %d missing, %d extra, %d different",
				res.SourceObjects, len(res.Missing), len(res.Extra), len(res.Different))
		}
	}
	return checks
}

func (r *Recovery) appChecks(ctx context.Context, out map[string]runbook.Outputs, add func(string, bool, string, ...any)) {
	a := r.cfg.Recover.App
	asgName := out[StepApp]["asg"]
	groups, err := r.c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asgName}})
	healthy, herr := healthyTargets(ctx, r.c, out[StepLoadBalancer]["tg_arn"])
	switch {
	case err != nil || len(groups.AutoScalingGroups) == 0:
		add("app at desired capacity with healthy targets", false, "auto scaling group %s not found: %v", asgName, err)
	case herr != nil:
		add("app at desired capacity with healthy targets", false, "%v", herr)
	default:
		n := len(groups.AutoScalingGroups[0].Instances)
		add("app at desired capacity with healthy targets", n >= a.Capacity.Desired && healthy >= a.Capacity.Desired,
			"%d instances, %d healthy targets, desired %d", n, healthy, a.Capacity.Desired)
	}
	lt := out[StepLaunchTemplate]["launch_template"]
	v, err := r.c.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(lt), Versions: []string{"$Latest"}})
	if err != nil || len(v.LaunchTemplateVersions) == 0 {
		add("user-data carries the DR endpoints", false, "launch template %s: %v", lt, err)
		return
	}
	ud := decodeUserData(aws.ToString(v.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
	var missing []string
	for _, want := range []string{out[StepDatabase]["db_host"], out[StepCache]["cache_host"]} {
		if want != "" && !strings.Contains(ud, want) {
			missing = append(missing, want)
		}
	}
	if r.cfg.Recover.App.UserData == "" {
		add("user-data carries the DR endpoints", true, "no user-data template configured")
		return
	}
	add("user-data carries the DR endpoints", len(missing) == 0, "missing: %s", orDefault(strings.Join(missing, ", "), "none"))
}

// rpoCheck compares a point's age with its target and says by how much it
// misses.
func (r *Recovery) rpoCheck(checks *[]report.Check, name, pointTime string, target time.Duration, now time.Time) {
	t, err := time.Parse(time.RFC3339, pointTime)
	if err != nil || target == 0 {
		*checks = append(*checks, report.Check{Name: name, Pass: false, Detail: "no point time recorded"})
		return
	}
	age := now.Sub(t).Round(time.Second)
	if age <= target {
		*checks = append(*checks, report.Check{Name: name, Pass: true, Detail: fmt.Sprintf("newest DR copy is %s old, target %s", age, target)})
		return
	}
	*checks = append(*checks, report.Check{Name: name, Pass: false,
		Detail: fmt.Sprintf("newest DR copy is %s old: %s over the %s target", age, (age - target).Round(time.Second), target)})
}

func errText(err error) string {
	if err != nil {
		return err.Error()
	}
	return "objects present"
}

func decodeUserData(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}

// Document turns a report and checks into the renderable report document.
func (rep *Report) Document(checks []report.Check) *report.Document {
	d := &report.Document{
		Title: rep.Kind + " of " + rep.Stack, Kind: rep.Kind, RunID: rep.RunID, Stack: rep.Stack, Region: rep.Region,
		Phase: rep.Phase, Start: rep.Start, End: rep.End, RTO: time.Duration(rep.RTOSeconds * float64(time.Second)), Checks: checks,
	}
	for _, p := range rep.Points {
		d.Points = append(d.Points, report.Point{Resource: p.Resource, ID: p.ID, Time: p.Time, RPO: time.Duration(p.RPOSeconds * float64(time.Second))})
	}
	for _, s := range rep.Steps {
		d.Steps = append(d.Steps, report.Step{ID: s.ID, Phase: s.Phase, Start: s.Start, End: s.End, Error: s.Error})
	}
	for _, res := range rep.Resources {
		d.Resources = append(d.Resources, res.Type+" "+res.ID)
	}
	if rep.DNS != nil && rep.DNS["record"] != "" {
		d.Notes = append(d.Notes, "DNS "+rep.DNS["mode"]+": "+rep.DNS["record"]+" -> "+rep.DNS["target"])
	}
	return d
}
