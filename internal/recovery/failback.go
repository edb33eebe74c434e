package recovery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// KindFailback is the return to the primary region after a failover.
const KindFailback = "failback"

// Failback brings the stack home once the primary region answers again:
// the DR database is snapshotted and copied back, restored under a new
// identifier (the old primary database is never touched), S3 changes made
// during the outage are copied back, the app comes up in the primary from
// its newest AMI there, DNS moves back, and the DR stack is torn down.
type Failback struct {
	cfg  *spec.Config
	env  *awsenv.Env
	dr   *Recovery // the failover's stack, in the DR region
	home *Recovery // the new stack, built in the primary region
	log  func(msg string, args ...any)
}

// NewFailback prepares a failback of cfg's failed-over stack.
func NewFailback(cfg *spec.Config, env *awsenv.Env, opts Options) *Failback {
	swapped := *cfg
	swapped.Primary, swapped.DR = cfg.DR, cfg.Primary
	opts.Kind = KindFailback
	home := New(&swapped, env, opts)
	home.n = newNames(&swapped, "fb")
	if d := cfg.Recover.Database; d != nil {
		home.n.dbID = fit(cfg.Stack+"-"+d.From+"-fb", 63)
	}
	dropts := opts
	dropts.Kind = KindFailover
	return &Failback{cfg: cfg, env: env, dr: New(cfg, env, dropts), home: home, log: home.opts.Log.Info}
}

// Failback step ids beyond the recovery steps (which run in the primary).
const (
	StepSnapshotDR = "snapshot-dr-db"
	StepCopyBack   = "copy-db-back"
	StepS3Back     = "s3-back"
	StepImage      = "primary-image"
)

// Graph is the failback's step graph: the recovery steps pointed at the
// primary region, fed by the copied-back snapshot, followed by the DR
// stack's teardown once DNS has moved.
func (f *Failback) Graph() (*runbook.Graph, error) {
	cfg := f.cfg
	h := f.home
	var steps []runbook.Step
	pointNeeds := []string{StepImage}
	if cfg.Recover.Database != nil {
		steps = append(steps,
			runbook.Step{ID: StepSnapshotDR, Plan: "snapshot the recovered DB " + f.dr.n.db() + " in " + cfg.DR.Region, Run: f.runSnapshotDR},
			runbook.Step{ID: StepCopyBack, Needs: []string{StepSnapshotDR}, Plan: "copy that snapshot to " + cfg.Primary.Region, Run: f.runCopyBack},
		)
		pointNeeds = append(pointNeeds, StepCopyBack)
	}
	steps = append(steps,
		runbook.Step{ID: StepImage, Plan: "newest available AMI of the app in " + cfg.Primary.Region, Run: f.runImage},
		runbook.Step{ID: StepPoints, Needs: pointNeeds, Plan: "use the copied-back snapshot and the primary AMI", Run: f.runPoints},
		runbook.Step{ID: StepNetwork, Plan: "build or find the pilotlight network in " + cfg.Primary.Region, Run: f.runNetwork},
	)
	if len(cfg.Protect.Buckets) > 0 {
		steps = append(steps, runbook.Step{ID: StepS3Back, Plan: "copy objects written in " + cfg.DR.Region + " during the outage back to the source buckets (no deletes)", Run: f.runS3Back})
	}
	appNeeds := []string{StepPoints, StepNetwork}
	if cfg.Recover.Database != nil {
		steps = append(steps, runbook.Step{ID: StepDatabase, Needs: []string{StepPoints, StepNetwork}, Plan: "restore DB " + h.n.db() + " in " + cfg.Primary.Region + " (new identifier)", Run: h.runDatabase})
		appNeeds = append(appNeeds, StepDatabase)
	}
	if cfg.Recover.Cache != nil {
		steps = append(steps, runbook.Step{ID: StepCache, Needs: []string{StepNetwork}, Plan: "create cache " + h.n.cache() + " in " + cfg.Primary.Region, Run: h.runCache})
		appNeeds = append(appNeeds, StepCache)
	}
	teardownNeeds := []string{}
	if cfg.Recover.App != nil {
		steps = append(steps,
			runbook.Step{ID: StepLoadBalancer, Needs: []string{StepNetwork}, Plan: "load balancer " + h.n.lb() + " in " + cfg.Primary.Region, Run: h.runLoadBalancer},
			runbook.Step{ID: StepLaunchTemplate, Needs: appNeeds, Plan: "launch template " + h.n.launchTemplate() + " with the primary's endpoints", Run: h.runLaunchTemplate},
			runbook.Step{ID: StepEgress, Needs: []string{StepNetwork}, Plan: "NAT gateway for the app subnets in " + cfg.Primary.Region, Run: h.runEgress},
			runbook.Step{ID: StepApp, Needs: []string{StepLaunchTemplate, StepLoadBalancer, StepEgress}, Plan: "auto scaling group " + h.n.asg() + "; wait for healthy targets", Run: h.runApp},
		)
		if cfg.Recover.DNS != nil {
			steps = append(steps, runbook.Step{ID: StepDNS, Needs: []string{StepApp, StepLoadBalancer}, Plan: "point " + cfg.Recover.DNS.Record + " back at the primary", Run: f.runDNS})
			teardownNeeds = append(teardownNeeds, StepDNS)
		} else {
			teardownNeeds = append(teardownNeeds, StepApp)
		}
	}
	if len(cfg.Protect.Buckets) > 0 {
		teardownNeeds = append(teardownNeeds, StepS3Back)
	}
	if cfg.Recover.Database != nil {
		teardownNeeds = append(teardownNeeds, StepCopyBack)
	}
	tg, err := f.dr.TeardownGraph(TeardownOptions{Force: true})
	if err != nil {
		return nil, err
	}
	for _, s := range tg.Steps() {
		s.ID = "dr-" + s.ID
		needs := append([]string(nil), teardownNeeds...)
		for _, n := range s.Needs {
			needs = append(needs, "dr-"+n)
		}
		s.Needs = needs
		s.Plan = "DR: " + s.Plan
		steps = append(steps, s)
	}
	return runbook.New(steps...)
}

func (f *Failback) snapshotName(rc *runbook.RunContext) string {
	// The run id makes the name unique per failback and stable across a
	// resume of the same run.
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(rc.RunID()))
	return fit(f.cfg.Stack+"-"+strings.TrimPrefix(id, "failback-")+"-fb", 255)
}

func (f *Failback) runSnapshotDR(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := f.dr.c
	name := f.snapshotName(rc)
	db := f.dr.n.db()
	if d, ok := f.cfg.Database(f.cfg.Recover.Database.From); ok && d.IsCluster() {
		return nil, fmt.Errorf("failback of an Aurora cluster is not automated yet: snapshot cluster %s in %s, copy it to %s and restore it by hand", db, c.region, f.cfg.Primary.Region)
	}
	snap, err := describeSnapshot(ctx, c, name)
	if err != nil {
		return nil, err
	}
	if snap == nil {
		t := tags.With(tags.Base(f.cfg.Stack), tags.OpKind, KindFailback, tags.Operation, rc.RunID(), tags.Resource, f.cfg.Recover.Database.From,
			tags.Created, time.Now().UTC().Format(time.RFC3339))
		if _, err := c.rds.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(db), DBSnapshotIdentifier: aws.String(name), Tags: rdsTags(t)}); err != nil {
			var exists *rdstypes.DBSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return nil, fmt.Errorf("snapshot DB %s as %s: %s: %w", db, name, c.region, err)
			}
		}
	}
	snap, err = waitSnapshot(ctx, c, name, f.dr.wait)
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"snapshot": name, "arn": aws.ToString(snap.DBSnapshotArn), "encrypted": strconv.FormatBool(aws.ToBool(snap.Encrypted))}, nil
}

func (f *Failback) runCopyBack(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := f.home.c // primary-region clients
	name := rc.Output(StepSnapshotDR, "snapshot")
	if rc.Output(StepSnapshotDR, "encrypted") == "true" {
		return nil, fmt.Errorf("the DR database is encrypted: copying %s back to %s needs a KMS key there, which pilotlight does not configure yet; copy it by hand with a key of %s and run failback with --point", name, c.region, c.region)
	}
	snap, err := describeSnapshot(ctx, c, name)
	if err != nil {
		return nil, err
	}
	if snap == nil {
		if _, err := c.rds.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{
			SourceDBSnapshotIdentifier: aws.String(rc.Output(StepSnapshotDR, "arn")), TargetDBSnapshotIdentifier: aws.String(name),
			SourceRegion: aws.String(f.cfg.DR.Region), CopyTags: aws.Bool(true),
		}); err != nil {
			var exists *rdstypes.DBSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return nil, fmt.Errorf("copy %s to %s: %w", name, c.region, err)
			}
		}
	}
	if _, err := waitSnapshot(ctx, c, name, f.home.wait); err != nil {
		return nil, err
	}
	return runbook.Outputs{"snapshot": name, "time": time.Now().UTC().Format(time.RFC3339)}, nil
}

func describeSnapshot(ctx context.Context, c *clients, name string) (*rdstypes.DBSnapshot, error) {
	out, err := c.rds.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(name)})
	var nf *rdstypes.DBSnapshotNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe snapshot %s: %s: %w", name, c.region, err)
	}
	if len(out.DBSnapshots) == 0 {
		return nil, nil
	}
	return &out.DBSnapshots[0], nil
}

func waitSnapshot(ctx context.Context, c *clients, name string, w waitPolicy) (*rdstypes.DBSnapshot, error) {
	return waitFor(ctx, w, "snapshot "+name, func(ctx context.Context) (*rdstypes.DBSnapshot, bool, error) {
		s, err := describeSnapshot(ctx, c, name)
		if err != nil || s == nil {
			return nil, false, err
		}
		switch st := aws.ToString(s.Status); st {
		case "available":
			return s, true, nil
		case "failed", "error":
			return nil, false, fmt.Errorf("snapshot %s is %s in %s", name, st, c.region)
		}
		return nil, false, nil
	})
}

func (f *Failback) runImage(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	a := f.cfg.Recover.App
	if a == nil {
		return nil, nil
	}
	ps, err := points.List(ctx, f.env, f.cfg, f.cfg.Primary.Region, a.ImageFrom)
	if err != nil {
		return nil, fmt.Errorf("AMIs of %s in %s: %w", a.ImageFrom, f.cfg.Primary.Region, err)
	}
	var best *points.Point
	for i := range ps {
		p := &ps[i]
		if p.Managed && p.Available() && (best == nil || p.Created.After(best.Created)) {
			best = p
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no available AMI of %s in %s: run `pilotlight backup --only %s` once the primary answers, then fail back", a.ImageFrom, f.cfg.Primary.Region, a.ImageFrom)
	}
	return runbook.Outputs{"ami": best.ID, "time": best.Created.UTC().Format(time.RFC3339)}, nil
}

// runPoints feeds the primary-side recovery steps the outputs they read
// from a failover's points step.
func (f *Failback) runPoints(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	out := runbook.Outputs{"ami": rc.Output(StepImage, "ami"), "ami_point_time": rc.Output(StepImage, "time")}
	if f.cfg.Recover.Database != nil {
		out["db_point"], out["db_point_time"], out["db_kind"] = rc.Output(StepCopyBack, "snapshot"), rc.Output(StepCopyBack, "time"), string(points.KindRDSInstance)
	}
	return out, nil
}

func (f *Failback) runNetwork(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	var ch changes
	net, err := buildNetwork(ctx, f.home.c, f.home.cfg, &ch)
	if err != nil {
		return nil, err
	}
	if f.cfg.Recover.App != nil {
		if _, err := ensureAppRole(ctx, f.home.c, f.home.cfg, &ch); err != nil {
			return nil, err
		}
	}
	return net.outputs(), nil
}

func (f *Failback) runS3Back(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	out := runbook.Outputs{}
	for _, b := range f.cfg.Protect.Buckets {
		res, err := s3sync.Sync(ctx, f.env, f.cfg, b, s3sync.SyncOptions{
			SourceRegion: f.cfg.DR.Region, DestRegion: f.cfg.Primary.Region, Source: b.Replica, Dest: b.Source,
		})
		if err != nil {
			return nil, fmt.Errorf("copy %s back to %s: %w", b.Replica, b.Source, err)
		}
		out[b.Name+"_copied"] = strconv.FormatInt(res.Copied, 10)
	}
	return out, nil
}

// runDNS moves the domain back. All regions answer now, so every mode may
// use Route 53's control plane.
func (f *Failback) runDNS(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	d := f.cfg.Recover.DNS
	c := f.home.c
	lbDNS := rc.Output(StepLoadBalancer, "lb_dns")
	switch d.Mode {
	case spec.DNSUpsert:
		if err := upsertRecord(ctx, c, d, d.Record, lbDNS, f.cfg.Primary.Region, f.home.wait); err != nil {
			return nil, err
		}
	case spec.DNSFailoverRecords:
		// The PRIMARY record and its health check move to the new primary
		// load balancer; the SECONDARY keeps pointing at the DR one.
		cfg := *f.cfg
		dns := *d
		dns.PrimaryTarget = lbDNS
		cfg.Recover.DNS = &dns
		drLB, err := findPreparedLB(ctx, f.dr.c, f.dr.n)
		if err != nil {
			return nil, err
		}
		var ch changes
		if err := ensureFailoverRecords(ctx, c, &cfg, drLB.DNS, &ch, f.home.wait); err != nil {
			return nil, err
		}
		f.log("update recover.dns.primary_target in the config: production now runs behind a new load balancer", "primary_target", lbDNS)
	default:
		rec := fmt.Sprintf("%s %d IN CNAME %s.", fqdn(d.Record), d.TTL, strings.TrimSuffix(lbDNS, "."))
		return runbook.Outputs{"mode": d.Mode, "record": d.Record, "target": lbDNS, "set_by_hand": rec}, nil
	}
	return runbook.Outputs{"mode": d.Mode, "record": d.Record, "target": lbDNS}, nil
}

// BuildReport reads a failback's journal into a report.
func (f *Failback) BuildReport(j *runbook.Journal) *Report { return f.home.BuildReport(j) }
