package recovery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	home.from = New(cfg, env, dropts)
	return &Failback{cfg: cfg, env: env, dr: home.from, home: home}
}

// Failback step ids beyond the recovery steps (which run in the primary).
const (
	StepSnapshotDR = "snapshot-dr-db"
	StepCopyBack   = "copy-db-back"
	StepS3Back     = "s3-back"
	StepImage      = "primary-image"
)

// Graph is the failback's step graph: the recovery kinds pointed at the
// primary region, fed by the copied-back snapshot, followed by the DR
// stack's teardown once DNS has moved.
func (f *Failback) Graph() (*runbook.Graph, error) {
	cfg := f.cfg
	var steps []runbook.Step
	pointNeeds := []string{StepImage}
	if cfg.Recover.Database != nil {
		steps = append(steps,
			runbook.Step{ID: StepSnapshotDR, Plan: "snapshot the recovered DB " + f.dr.n.db() + " in " + cfg.DR.Region, Run: f.runSnapshotDR},
			runbook.Step{ID: StepCopyBack, Needs: []string{StepSnapshotDR}, Plan: "copy that snapshot to " + cfg.Primary.Region, Run: f.runCopyBack},
		)
		pointNeeds = append(pointNeeds, StepCopyBack)
	}
	steps = append(steps, runbook.Step{ID: StepImage, Plan: "newest available AMI of the app in " + cfg.Primary.Region, Run: f.runImage})
	if len(cfg.Protect.Buckets) > 0 {
		steps = append(steps, runbook.Step{ID: StepS3Back, Plan: "copy objects written in " + cfg.DR.Region + " during the outage back to the source buckets (no deletes)", Run: f.runS3Back})
	}
	for _, s := range f.home.createSteps() {
		if s.ID == StepPoints {
			s.Needs = append(s.Needs, pointNeeds...)
		}
		steps = append(steps, s)
	}
	teardownNeeds := []string{}
	if cfg.Recover.App != nil {
		if cfg.Recover.DNS != nil {
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

// snapshotOut is what the DR snapshot and the copy back hand on.
type snapshotOut struct {
	Snapshot, ARN string
	Encrypted     bool
	Time          string // when the copy was ready (copy back only)
}

func (o snapshotOut) outputs() runbook.Outputs {
	enc := ""
	if o.ARN != "" {
		enc = strconv.FormatBool(o.Encrypted)
	}
	return outputs("snapshot", o.Snapshot, "arn", o.ARN, "encrypted", enc, "time", o.Time)
}

func snapshotOf(o runbook.Outputs) snapshotOut {
	return snapshotOut{Snapshot: o["snapshot"], ARN: o["arn"], Encrypted: o["encrypted"] == "true", Time: o["time"]}
}

func (f *Failback) runSnapshotDR(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	region := f.cfg.DR.Region
	name := f.snapshotName(rc)
	db := f.dr.n.db()
	if d, ok := f.cfg.Database(f.cfg.Recover.Database.From); ok && d.IsCluster() {
		return nil, fmt.Errorf("failback of an Aurora cluster is not automated yet: snapshot cluster %s in %s, copy it to %s and restore it by hand", db, region, f.cfg.Primary.Region)
	}
	t := tags.With(tags.Base(f.cfg.Stack), tags.OpKind, KindFailback, tags.Operation, rc.RunID(), tags.Resource, f.cfg.Recover.Database.From,
		tags.Created, time.Now().UTC().Format(time.RFC3339))
	snap, err := points.SnapshotDB(ctx, f.env, region, db, name, t, f.dr.wait.poll)
	if err != nil {
		return nil, err
	}
	return snapshotOut{Snapshot: name, ARN: snap.ARN, Encrypted: snap.Encrypted}.outputs(), nil
}

func (f *Failback) runCopyBack(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	region := f.cfg.Primary.Region
	dr := snapshotOf(rc.Outputs(StepSnapshotDR))
	if dr.Encrypted {
		return nil, fmt.Errorf("the DR database is encrypted: copying %s back to %s needs a KMS key there, which pilotlight does not configure yet; copy it by hand with a key of %s and run failback with --point", dr.Snapshot, region, region)
	}
	if _, err := points.CopySnapshotTo(ctx, f.env, f.cfg.DR.Region, dr.ARN, region, dr.Snapshot, f.home.wait.poll); err != nil {
		return nil, err
	}
	return snapshotOut{Snapshot: dr.Snapshot, Time: time.Now().UTC().Format(time.RFC3339)}.outputs(), nil
}

// imageOut is what the primary image step hands on.
type imageOut struct{ AMI, Time string }

func (o imageOut) outputs() runbook.Outputs { return outputs("ami", o.AMI, "time", o.Time) }

func imageOf(o runbook.Outputs) imageOut { return imageOut{AMI: o["ami"], Time: o["time"]} }

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
	return imageOut{AMI: best.ID, Time: best.Created.UTC().Format(time.RFC3339)}.outputs(), nil
}

// failbackPoints feeds the primary-side kinds the points a failover's
// points step would: the copied-back snapshot and the primary's AMI.
func failbackPoints(r *Recovery, rc *runbook.RunContext) pointsOut {
	im := imageOf(rc.Outputs(StepImage))
	out := pointsOut{AMI: im.AMI, AMIPointTime: im.Time}
	if r.cfg.Recover.Database != nil {
		back := snapshotOf(rc.Outputs(StepCopyBack))
		out.DBPoint, out.DBPointTime, out.DBKind = back.Snapshot, back.Time, points.KindRDSInstance
	}
	return out
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

// BuildReport reads a failback's journal into a report.
func (f *Failback) BuildReport(j *runbook.Journal) *Report { return f.home.BuildReport(j) }
