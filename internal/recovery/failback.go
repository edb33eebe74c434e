package recovery

import (
	"context"
	"fmt"
	"slices"
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
// the DR database (instance or Aurora cluster) is replicated or
// snapshotted back, under the next generation's identifier (names.go; the
// old primary database is never touched), S3 changes made
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
	// The app reads the bucket of the region it runs in: after failback
	// that is the source bucket, which the copy back has just brought up
	// to date, not the DR replica.
	swapped.Protect.Buckets = make([]spec.Bucket, len(cfg.Protect.Buckets))
	for i, b := range cfg.Protect.Buckets {
		b.Source, b.Replica = b.Replica, b.Source
		swapped.Protect.Buckets[i] = b
	}
	opts.Kind = KindFailback
	home := New(&swapped, env, opts)
	home.n = failbackNames(cfg, &swapped)
	dropts := opts
	dropts.Kind = KindFailover
	home.from = New(cfg, env, dropts)
	return &Failback{cfg: cfg, env: env, dr: home.from, home: home}
}

// Failback step ids beyond the recovery steps (which run in the primary).
// The order is a planned, zero-loss move: catch up while DR serves,
// freeze writes, catch up the rest, bring the primary up, move DNS, and
// only then tear DR down.
const (
	StepCatchUpDB = "catch-up-db" // read replica in the primary, or a first snapshot copy
	StepS3Back    = "s3-back"     // objects written in DR, copied while DR serves
	StepFreeze    = "freeze"      // the DR app stops taking writes
	StepFinalDB   = "final-db"    // promote the replica, or copy a last snapshot
	StepS3Final   = "s3-final"    // objects written between the first copy and the freeze
	StepImage     = "primary-image"
	StepAppRole   = "app-role"
	// StepDropSnapshots deletes the snapshot path's intermediates once the
	// primary's database is restored: both snapshots in DR (torn down
	// with the rest of it) and the first copy home. The last copy home,
	// the new production's restore source, stays.
	StepDropSnapshots = "drop-snapshots"
)

// Graph is the failback's step graph: the recovery kinds pointed at the
// primary region, with every one that does not read the database built
// before the freeze so that it stays short; the database, the app and DNS
// after the final catch-up; then the DR stack's teardown.
func (f *Failback) Graph() (*runbook.Graph, error) {
	cfg := f.cfg
	var steps []runbook.Step
	home := f.home.createSteps()
	built := map[string]bool{}
	for _, s := range home {
		built[s.ID] = true
	}
	// Built before the freeze: everything that does not read the DB.
	freezeNeeds := []string{StepImage}
	for _, id := range []string{StepNetwork, StepCache, StepLoadBalancer, StepEgress} {
		if built[id] {
			freezeNeeds = append(freezeNeeds, id)
		}
	}
	afterFreeze := []string{StepFreeze}
	if cfg.Recover.Database != nil {
		catchUp := "catch up while DR serves: a read replica of " + f.dr.n.db() + " (" + cfg.DR.Region + ") in " + cfg.Primary.Region + " as " + f.home.n.db() + " (MySQL, MariaDB, PostgreSQL), else a first snapshot copied back"
		final := "promote the replica once writes are frozen (else copy a last snapshot, incremental on the first)"
		if f.cluster() {
			catchUp = "catch up while DR serves: a cluster snapshot of Aurora cluster " + f.dr.n.db() + " (" + cfg.DR.Region + ") copied to " + cfg.Primary.Region + " (proves key, quota and permissions before the freeze)"
			final = "copy a last cluster snapshot once writes are frozen (Aurora copies in full); the database step restores it as cluster " + f.home.n.db()
		}
		steps = append(steps,
			runbook.Step{ID: StepCatchUpDB, Needs: []string{StepNetwork}, Plan: catchUp, Run: f.runCatchUpDB},
			runbook.Step{ID: StepFinalDB, Needs: []string{StepFreeze}, Plan: final, Run: f.runFinalDB},
		)
		freezeNeeds = append(freezeNeeds, StepCatchUpDB)
		afterFreeze = append(afterFreeze, StepFinalDB)
		steps = append(steps, runbook.Step{ID: StepDropSnapshots, Needs: []string{StepFinalDB, StepDatabase},
			Plan: "snapshot path: delete this failback's snapshots in " + cfg.DR.Region + " and its first copy in " + cfg.Primary.Region + " (the last copy, the database's restore source, stays)", Run: f.runDropSnapshots})
	}
	steps = append(steps, runbook.Step{ID: StepImage, Plan: "newest available AMI of the app in " + cfg.Primary.Region, Run: f.runImage})
	if len(cfg.Protect.Buckets) > 0 {
		steps = append(steps,
			runbook.Step{ID: StepS3Back, Plan: "copy objects written in " + cfg.DR.Region + " during the outage back to the source buckets while DR serves (no deletes)", Run: f.runS3Back},
			runbook.Step{ID: StepS3Final, Needs: []string{StepFreeze}, Plan: "copy what was written in " + cfg.DR.Region + " until the freeze back to the source buckets", Run: f.runS3Back},
		)
		freezeNeeds = append(freezeNeeds, StepS3Back)
		afterFreeze = append(afterFreeze, StepS3Final)
	}
	steps = append(steps, runbook.Step{ID: StepFreeze, Needs: freezeNeeds, Plan: "freeze writes: scale the DR app " + f.dr.n.asg() + " to zero and wait until no instance of it serves", Run: f.runFreeze})
	if cfg.Recover.App != nil {
		steps = append(steps, runbook.Step{ID: StepAppRole, Plan: "let the app role read and write the source buckets", Run: f.runAppRole})
	}
	for _, s := range home {
		switch s.ID {
		case StepPoints, StepDatabase:
			// The DB the primary runs on is only final after the freeze.
			s.Needs = append(s.Needs, afterFreeze...)
			if s.ID == StepPoints {
				s.Needs = append(s.Needs, StepImage)
			}
		case StepLaunchTemplate:
			s.Needs = append(s.Needs, StepAppRole)
		case StepDNS:
			// Every object DR took is home before users are. In
			// failover-records mode this step also clears the "failed
			// over" pin (kind_dns.go), once the PRIMARY record names
			// the new load balancer.
			s.Needs = append(s.Needs, afterFreeze...)
		}
		steps = append(steps, s)
	}
	teardownNeeds := append([]string(nil), afterFreeze...)
	if cfg.Recover.App != nil {
		if cfg.Recover.DNS != nil {
			teardownNeeds = append(teardownNeeds, StepDNS)
		} else {
			teardownNeeds = append(teardownNeeds, StepApp)
		}
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

// snapshotName names the failback's snapshot of src, with suffix (the
// first copy's "-1"), within what RDS accepts for its kind.
func (f *Failback) snapshotName(rc *runbook.RunContext, src sourceDB, suffix string) string {
	// The run id makes the name unique per failback and stable across a
	// resume of the same run.
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(rc.RunID()))
	max := 255
	if src.Cluster {
		max = clusterSnapshotMax
	}
	return fit(f.cfg.Stack+"-"+strings.TrimPrefix(id, "failback-")+"-fb", max-len(suffix)) + suffix
}

// catchUpOut is what the database catch-up hands on.
type catchUpOut struct {
	Mode     string // "replica" or "snapshot"
	Replica  string // the replica's id (replica mode)
	Snapshot string // the first snapshot copied back (snapshot mode)
	Engine   string
}

func (o catchUpOut) outputs() runbook.Outputs {
	return outputs("mode", o.Mode, "replica", o.Replica, "snapshot", o.Snapshot, "engine", o.Engine)
}

func catchUpOf(o runbook.Outputs) catchUpOut {
	return catchUpOut{Mode: o["mode"], Replica: o["replica"], Snapshot: o["snapshot"], Engine: o["engine"]}
}

func (f *Failback) runCatchUpDB(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	region, home := f.cfg.DR.Region, f.cfg.Primary.Region
	d := f.cfg.Recover.Database
	db := f.dr.n.db()
	if err := f.checkTargetFree(ctx, rc); err != nil {
		return nil, err
	}
	src, err := f.describeSource(ctx)
	if err != nil {
		return nil, err
	}
	if src.Encrypted && d.FailbackKMSKey == "" {
		return nil, fmt.Errorf("the DR database %s (%s) is encrypted and a KMS key never leaves its region: set recover.database.failback_kms_key to a key of %s", db, region, home)
	}
	if !src.Cluster && slices.Contains(replicaEngines, src.Engine) {
		net := f.home.network(rc)
		sgs := d.SecurityGroups
		if len(sgs) == 0 && net.DBSecurityGroup != "" {
			sgs = []string{net.DBSecurityGroup}
		}
		id := f.home.n.db()
		// Tagged as the database step tags what it restores: once promoted
		// the replica is the primary's DB, which that step adopts.
		err := replicaDB(ctx, f.env, region, src, home, replicaInput{
			ID: id, Class: d.Class, SubnetGroup: net.DBSubnetGroup, SecurityGroups: sgs, KMSKey: d.FailbackKMSKey,
			Tags: f.home.stepTags(rc, StepDatabase, "database"),
		}, f.home.wait.poll)
		if err != nil {
			return nil, err
		}
		return catchUpOut{Mode: "replica", Replica: id, Engine: src.Engine}.outputs(), nil
	}
	// No cross-region replica for this engine (or an Aurora cluster): a
	// first snapshot copied now is the base that makes the final copy,
	// after the freeze, incremental (for an instance; failback_cluster.go
	// says what it is worth for a cluster).
	snap, err := f.snapshotBack(ctx, rc, src, f.snapshotName(rc, src, "-1"))
	if err != nil {
		return nil, err
	}
	return catchUpOut{Mode: "snapshot", Snapshot: snap, Engine: src.Engine}.outputs(), nil
}

// snapshotBack snapshots the DR database as name and copies it home: a
// DB snapshot of an instance, a cluster snapshot of an Aurora cluster,
// encrypted in the primary with recover.database.failback_kms_key.
func (f *Failback) snapshotBack(ctx context.Context, rc *runbook.RunContext, src sourceDB, name string) (string, error) {
	t := tags.With(tags.Base(f.cfg.Stack), tags.OpKind, KindFailback, tags.Operation, rc.RunID(), tags.Resource, f.cfg.Recover.Database.From,
		tags.Created, time.Now().UTC().Format(time.RFC3339))
	region, home, key := f.cfg.DR.Region, f.cfg.Primary.Region, f.cfg.Recover.Database.FailbackKMSKey
	if src.Cluster {
		snap, err := points.SnapshotCluster(ctx, f.env, region, src.ID, name, t, f.dr.wait.poll)
		if err != nil {
			return "", err
		}
		if !snap.Encrypted {
			// RDS refuses a key for an unencrypted cluster snapshot's copy
			// (an instance snapshot's copy would be encrypted with it).
			key = ""
		}
		if _, err := points.CopyClusterSnapshotTo(ctx, f.env, region, snap.ARN, home, name, key, f.home.wait.poll); err != nil {
			return "", err
		}
		return name, nil
	}
	snap, err := points.SnapshotDB(ctx, f.env, region, src.ID, name, t, f.dr.wait.poll)
	if err != nil {
		return "", err
	}
	if _, err := points.CopySnapshotTo(ctx, f.env, region, snap.ARN, home, name, key, f.home.wait.poll); err != nil {
		return "", err
	}
	return name, nil
}

// finalDBOut is what the final catch-up hands on.
type finalDBOut struct {
	Snapshot string // the last snapshot copied back (snapshot mode)
	Time     string // when the primary's DB held every write DR took
}

func (o finalDBOut) outputs() runbook.Outputs {
	return outputs("snapshot", o.Snapshot, "time", o.Time)
}

func finalDBOf(o runbook.Outputs) finalDBOut {
	return finalDBOut{Snapshot: o["snapshot"], Time: o["time"]}
}

func (f *Failback) runFinalDB(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	up := catchUpOf(rc.Outputs(StepCatchUpDB))
	frozen := freezeOf(rc.Outputs(StepFreeze)).At
	if up.Mode == "replica" {
		// Writes stopped at the freeze, so once the replica has applied
		// what it had received it holds everything; promotion then cuts it
		// loose as a writable DB.
		if err := f.waitReplicaCaughtUp(ctx, up.Replica, frozen); err != nil {
			return nil, err
		}
		if err := promoteDB(ctx, f.env, f.cfg.Primary.Region, up.Replica, f.home.wait.poll); err != nil {
			return nil, err
		}
		return finalDBOut{Time: frozen.Format(time.RFC3339)}.outputs(), nil
	}
	src, err := f.describeSource(ctx)
	if err != nil {
		return nil, err
	}
	name, err := f.snapshotBack(ctx, rc, src, f.snapshotName(rc, src, ""))
	if err != nil {
		return nil, err
	}
	return finalDBOut{Snapshot: name, Time: frozen.Format(time.RFC3339)}.outputs(), nil
}

// runDropSnapshots deletes what the snapshot path leaves once the
// primary's database is restored (replica mode leaves none).
func (f *Failback) runDropSnapshots(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	up, final := catchUpOf(rc.Outputs(StepCatchUpDB)), finalDBOf(rc.Outputs(StepFinalDB))
	if up.Mode != "snapshot" {
		return nil, nil
	}
	want := tags.With(tags.Base(f.cfg.Stack), tags.OpKind, KindFailback, tags.Operation, rc.RunID())
	var dropped []string
	for _, d := range []struct{ region, id string }{
		{f.cfg.DR.Region, up.Snapshot}, {f.cfg.DR.Region, final.Snapshot}, {f.cfg.Primary.Region, up.Snapshot},
	} {
		if d.id == "" {
			continue
		}
		if err := points.DeleteFailbackSnapshot(ctx, f.env, d.region, d.id, f.cluster(), want); err != nil {
			return nil, err
		}
		dropped = append(dropped, d.id+" ("+d.region+")")
	}
	return outputs("dropped", strings.Join(dropped, ", "), "kept", final.Snapshot), nil
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
		final := finalDBOf(rc.Outputs(StepFinalDB))
		out.DBPoint, out.DBPointTime, out.DBKind = final.Snapshot, final.Time, points.KindRDSInstance
		if pd, ok := r.cfg.Database(r.cfg.Recover.Database.From); ok && pd.IsCluster() {
			// The database step restores a cluster and its writer.
			out.DBKind, out.DBEngine = points.KindRDSCluster, catchUpOf(rc.Outputs(StepCatchUpDB)).Engine
		}
		if final.Snapshot == "" {
			// Replica mode: the DB step adopts the promoted replica.
			out.DBPoint = catchUpOf(rc.Outputs(StepCatchUpDB)).Replica
		}
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
