package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Operation kinds; each is journaled under its own kind and tags what it
// creates with it, so that teardown of a drill never touches a failover.
const (
	KindFailover = "failover"
	KindDrill    = "drill"
)

// Options shape one recovery operation.
type Options struct {
	Kind    string // KindFailover (default) or KindDrill
	PointID string // restore this DB point instead of the newest DR copy
	Log     *slog.Logger
	// Wait overrides the polling policy (tests with simulated slow clients).
	Wait *waitPolicy
}

// Recovery builds the step graph that rebuilds the stack in the DR region.
// Every client it holds is for the DR region; see the package comment.
type Recovery struct {
	cfg  *spec.Config
	env  *awsenv.Env
	c    *clients
	opts Options
	n    names
	wait waitPolicy
}

// New prepares a recovery operation for cfg.
func New(cfg *spec.Config, env *awsenv.Env, opts Options) *Recovery {
	if opts.Kind == "" {
		opts.Kind = KindFailover
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	suffix := ""
	if opts.Kind == KindDrill {
		suffix = "drill"
	}
	w := defaultWait()
	if opts.Wait != nil {
		w = *opts.Wait
	}
	return &Recovery{cfg: cfg, env: env, c: newClients(env, cfg.DR.Region), opts: opts, n: newNames(cfg, suffix), wait: w}
}

// Kind is the operation's kind.
func (r *Recovery) Kind() string { return r.opts.Kind }

// stepTags are the tags of a resource a step creates.
func (r *Recovery) stepTags(rc *runbook.RunContext, step, role string) map[string]string {
	return tags.With(tags.Base(r.cfg.Stack), tags.OpKind, r.opts.Kind, tags.Operation, rc.RunID(), tags.Step, step, tags.Role, role)
}

// Step ids, in the order a person reads them.
const (
	StepPoints         = "points"
	StepNetwork        = "network"
	StepDatabase       = "database"
	StepCache          = "cache"
	StepLoadBalancer   = "load-balancer"
	StepLaunchTemplate = "launch-template"
	StepApp            = "app"
	StepDNS            = "dns"
	StepEgress         = "egress"
)

// Graph is the recovery's step graph. Only the DB → app edge is a real data
// dependency (user-data carries the DB and cache endpoints); everything
// else runs at once, so RTO approaches the longest restore, not the sum.
func (r *Recovery) Graph() (*runbook.Graph, error) {
	cfg := r.cfg
	steps := []runbook.Step{
		{ID: StepPoints, Plan: r.planPoints(), Run: r.runPoints},
		{ID: StepNetwork, Plan: "find the prepared DR network in " + cfg.DR.Region + " (VPC, subnets, security groups, subnet groups); create nothing", Run: r.runNetwork},
	}
	appNeeds := []string{StepPoints, StepNetwork}
	if cfg.Recover.Database != nil {
		steps = append(steps, runbook.Step{ID: StepDatabase, Needs: []string{StepPoints, StepNetwork},
			Plan: fmt.Sprintf("restore DB %s (%s) from the chosen DR snapshot and wait until available", r.n.db(), orDefault(cfg.Recover.Database.Class, "snapshot's class")),
			Run:  r.runDatabase})
		appNeeds = append(appNeeds, StepDatabase)
	}
	if cfg.Recover.Cache != nil {
		steps = append(steps, runbook.Step{ID: StepCache, Needs: []string{StepNetwork},
			Plan: fmt.Sprintf("create %s cache %s (%s x%d), empty, and wait until available", cfg.Recover.Cache.Engine, r.n.cache(), cfg.Recover.Cache.NodeType, cfg.Recover.Cache.Nodes),
			Run:  r.runCache})
		appNeeds = append(appNeeds, StepCache)
	}
	if cfg.Recover.App != nil {
		steps = append(steps,
			runbook.Step{ID: StepLoadBalancer, Needs: []string{StepNetwork}, Plan: r.planLB(), Run: r.runLoadBalancer},
			runbook.Step{ID: StepLaunchTemplate, Needs: appNeeds,
				Plan: fmt.Sprintf("render user-data with the recovered endpoints; launch template %s (%s, newest DR AMI)", r.n.launchTemplate(), cfg.Recover.App.InstanceType),
				Run:  r.runLaunchTemplate},
			runbook.Step{ID: StepApp, Needs: r.appNeeds(),
				Plan: fmt.Sprintf("auto scaling group %s (min %d, desired %d, max %d) in the app subnets; wait for %d healthy targets", r.n.asg(), cfg.Recover.App.Capacity.Min, cfg.Recover.App.Capacity.Desired, cfg.Recover.App.Capacity.Max, cfg.Recover.App.Capacity.Desired),
				Run:  r.runApp},
		)
		if r.ownsEgress() {
			steps = append(steps, runbook.Step{ID: StepEgress, Needs: []string{StepNetwork},
				Plan: "NAT gateway for the app subnets (shared with another operation's if one runs)", Run: r.runEgress})
		}
		if cfg.Recover.DNS != nil {
			steps = append(steps, runbook.Step{ID: StepDNS, Needs: []string{StepApp, StepLoadBalancer}, Plan: r.planDNS(), Run: r.runDNS})
		}
	}
	return runbook.New(steps...)
}

// ownsEgress: a network pilotlight built gets a NAT per recovery; one the
// config names has its own routing.
func (r *Recovery) ownsEgress() bool { return r.cfg.Recover.Network.VPC.IsZero() }

func (r *Recovery) appNeeds() []string {
	if r.ownsEgress() {
		return []string{StepLaunchTemplate, StepLoadBalancer, StepEgress}
	}
	return []string{StepLaunchTemplate, StepLoadBalancer}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (r *Recovery) planPoints() string {
	var parts []string
	if d := r.cfg.Recover.Database; d != nil {
		if r.opts.PointID != "" {
			parts = append(parts, "DB point "+r.opts.PointID)
		} else {
			parts = append(parts, "newest available DR copy of "+d.From)
		}
	}
	if a := r.cfg.Recover.App; a != nil {
		parts = append(parts, "newest available DR AMI of "+a.ImageFrom)
	}
	return "choose " + strings.Join(parts, " and ") + " in " + r.cfg.DR.Region
}

func (r *Recovery) planLB() string {
	if r.usesPreparedLB() {
		return "use the prepared DR load balancer " + r.n.preparedLB() + " (failover-records mode)"
	}
	return fmt.Sprintf("load balancer %s, target group %s, listener HTTP:%d", r.n.lb(), r.n.tg(), r.cfg.Recover.App.LoadBalancer.Port)
}

func (r *Recovery) planDNS() string {
	d := r.cfg.Recover.DNS
	if r.opts.Kind == KindDrill {
		if d.DrillRecord != "" && d.Mode != spec.DNSManual {
			return "UPSERT drill record " + d.DrillRecord + " to the drill load balancer (production record untouched)"
		}
		return "leave DNS untouched (drill)"
	}
	switch d.Mode {
	case spec.DNSUpsert:
		return fmt.Sprintf("UPSERT %s (%s) to the DR load balancer and wait INSYNC", d.Record, d.Type)
	case spec.DNSFailoverRecords:
		return "no Route 53 call: the SECONDARY failover record already points at the DR load balancer; verify its targets are healthy"
	default:
		return "print the record to set by hand for " + d.Record
	}
}

func (r *Recovery) usesPreparedLB() bool {
	return r.opts.Kind == KindFailover && r.cfg.Recover.DNS != nil && r.cfg.Recover.DNS.Mode == spec.DNSFailoverRecords
}

// ChosenPoints resolves the recovery points the run would use, calling only
// the DR region.
func (r *Recovery) ChosenPoints(ctx context.Context) (db, image *points.Point, err error) {
	cfg := r.cfg
	if d := cfg.Recover.Database; d != nil {
		var p points.Point
		if r.opts.PointID != "" {
			p, err = points.Get(ctx, r.env, cfg, cfg.DR.Region, d.From, r.opts.PointID)
		} else {
			p, err = points.NewestDR(ctx, r.env, cfg, d.From)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("recovery point of %s in %s: %w", d.From, cfg.DR.Region, err)
		}
		db = &p
	}
	if a := cfg.Recover.App; a != nil {
		p, err := points.NewestDR(ctx, r.env, cfg, a.ImageFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("recovery point of %s in %s: %w", a.ImageFrom, cfg.DR.Region, err)
		}
		image = &p
	}
	return db, image, nil
}

func (r *Recovery) runPoints(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	db, image, err := r.ChosenPoints(ctx)
	if err != nil {
		return nil, err
	}
	out := runbook.Outputs{}
	if db != nil {
		out["db_point"], out["db_point_time"], out["db_engine"], out["db_kind"] = db.ID, db.Created.UTC().Format(time.RFC3339), db.Engine, string(db.Kind)
	}
	if image != nil {
		out["ami"], out["ami_point_time"] = image.ID, image.Created.UTC().Format(time.RFC3339)
	}
	return out, nil
}

func (r *Recovery) runNetwork(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	net, missing, err := findNetwork(ctx, r.c, r.cfg)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the DR network in %s is incomplete (missing: %s): run `pilotlight prepare` before a disaster", r.cfg.DR.Region, strings.Join(missing, ", "))
	}
	return net.outputs(), nil
}

func (r *Recovery) network(rc *runbook.RunContext) Network {
	return networkFrom(func(k string) string { return rc.Output(StepNetwork, k) })
}

func (r *Recovery) runDatabase(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	t := r.stepTags(rc, StepDatabase, "database")
	cluster := rc.Output(StepPoints, "db_kind") == string(points.KindRDSCluster)
	if cluster {
		t = tags.With(t, "engine", rc.Output(StepPoints, "db_engine"))
	}
	host, port, err := restoreDatabase(ctx, r.c, r.cfg, r.n, rc.Output(StepPoints, "db_point"), cluster, r.network(rc), t, r.wait)
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"db_id": r.n.db(), "db_host": host, "db_port": strconv.Itoa(port)}, nil
}

func (r *Recovery) runCache(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	host, port, err := createCache(ctx, r.c, r.cfg, r.n, r.network(rc), r.stepTags(rc, StepCache, "cache"), r.wait)
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"cache_id": r.n.cache(), "cache_host": host, "cache_port": strconv.Itoa(port)}, nil
}

func (r *Recovery) runLoadBalancer(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	net := r.network(rc)
	var ch changes
	if r.usesPreparedLB() {
		lb, err := findPreparedLB(ctx, r.c, r.n)
		if err != nil {
			return nil, err
		}
		return lb.outputs(), nil
	}
	lb, err := ensureLoadBalancer(ctx, r.c, r.cfg, r.n.lb(), r.n.tg(), net, r.stepTags(rc, StepLoadBalancer, "load-balancer"), &ch)
	if err != nil {
		return nil, err
	}
	return lb.outputs(), nil
}

func (r *Recovery) runLaunchTemplate(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	dbPort, _ := strconv.Atoi(rc.Output(StepDatabase, "db_port"))
	cachePort, _ := strconv.Atoi(rc.Output(StepCache, "cache_port"))
	ep := Endpoints{DBHost: rc.Output(StepDatabase, "db_host"), DBPort: dbPort, CacheHost: rc.Output(StepCache, "cache_host"), CachePort: cachePort, Region: r.cfg.DR.Region}
	ud, err := RenderUserData(r.cfg, ep)
	if err != nil {
		return nil, err
	}
	id, err := ensureLaunchTemplate(ctx, r.c, r.cfg, r.n, rc.Output(StepPoints, "ami"), ud, r.network(rc), r.stepTags(rc, StepLaunchTemplate, "launch-template"))
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"launch_template": id, "launch_template_name": r.n.launchTemplate()}, nil
}

func (r *Recovery) runApp(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	lb := LoadBalancer{ARN: rc.Output(StepLoadBalancer, "lb_arn"), DNS: rc.Output(StepLoadBalancer, "lb_dns"), TargetGroup: rc.Output(StepLoadBalancer, "tg_arn")}
	healthy, err := ensureAutoScaling(ctx, r.c, r.cfg, r.n, rc.Output(StepLaunchTemplate, "launch_template"), lb, r.network(rc), r.stepTags(rc, StepApp, "app"), r.wait)
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"asg": r.n.asg(), "healthy": strconv.Itoa(healthy)}, nil
}

// ErrControlPlaneDown marks a DNS step that needed a control plane living
// in the failed region.
var ErrControlPlaneDown = errors.New("Route 53 control plane unreachable")

func (r *Recovery) runDNS(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	d := r.cfg.Recover.DNS
	lbDNS := rc.Output(StepLoadBalancer, "lb_dns")
	if r.opts.Kind == KindDrill {
		if d.DrillRecord == "" || d.Mode == spec.DNSManual {
			return runbook.Outputs{"mode": "untouched"}, nil
		}
		if err := upsertRecord(ctx, r.c, d, d.DrillRecord, lbDNS, r.cfg.DR.Region, r.wait); err != nil {
			return nil, err
		}
		return runbook.Outputs{"mode": "drill-record", "record": d.DrillRecord, "target": lbDNS}, nil
	}
	switch d.Mode {
	case spec.DNSUpsert:
		cctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		defer cancel()
		if err := upsertRecord(cctx, r.c, d, d.Record, lbDNS, r.cfg.DR.Region, r.wait); err != nil {
			if why, depends := DNSDependsOnPrimary(r.cfg); depends {
				return nil, fmt.Errorf("%w: %s. The DR stack is up: point %s at %s by hand. (%v)", ErrControlPlaneDown, why, d.Record, lbDNS, err)
			}
			return nil, err
		}
		return runbook.Outputs{"mode": d.Mode, "record": d.Record, "target": lbDNS}, nil
	case spec.DNSFailoverRecords:
		healthy, err := healthyTargets(ctx, r.c, rc.Output(StepLoadBalancer, "tg_arn"))
		if err != nil {
			return nil, err
		}
		if healthy == 0 {
			return nil, fmt.Errorf("the DR load balancer %s has no healthy targets: Route 53 cannot fail over to it", lbDNS)
		}
		return runbook.Outputs{"mode": d.Mode, "record": d.Record, "target": lbDNS, "healthy": strconv.Itoa(healthy)}, nil
	default:
		rec := fmt.Sprintf("%s %d IN CNAME %s.", fqdn(d.Record), d.TTL, strings.TrimSuffix(lbDNS, "."))
		r.opts.Log.Warn("DNS is manual: set this record at your DNS provider", "record", rec)
		return runbook.Outputs{"mode": d.Mode, "record": d.Record, "target": lbDNS, "set_by_hand": rec}, nil
	}
}
