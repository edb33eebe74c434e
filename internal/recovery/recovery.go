// Package recovery holds the recovery plane: the concrete steps that
// rebuild a stack in the DR region (network, database, cache, app, DNS) and
// the operations composed of them (prepare, failover, drill, failback,
// teardown). Each resource kind lives in its own kind_*.go file behind the
// kind interface (kind.go); the graphs are assembled from the registry.
// Every call a failover or drill makes goes to the DR region, or to a
// global control plane whose home is not the primary region; it never
// calls the primary region.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
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
	// from is, in a failback, the failed-over stack this one replaces.
	from *Recovery
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
	w := defaultWait().in(env)
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

// owned reports whether tags t mark a resource of this stack made by this
// kind of operation.
func (r *Recovery) owned(t map[string]string) bool {
	return tags.Managed(t, r.cfg.Stack) && t[tags.OpKind] == r.opts.Kind
}

// Graph is the recovery's step graph. Only the DB → app edge is a real data
// dependency (user-data carries the DB and cache endpoints); everything
// else runs at once, so RTO approaches the longest restore, not the sum.
func (r *Recovery) Graph() (*runbook.Graph, error) {
	return runbook.New(r.createSteps()...)
}

// ownsEgress: a network pilotlight built gets a NAT per recovery; one the
// config names has its own routing. A failback always builds its network.
func (r *Recovery) ownsEgress() bool {
	return r.opts.Kind == KindFailback || r.cfg.Recover.Network.VPC.IsZero()
}

func (r *Recovery) usesPreparedLB() bool {
	return r.opts.Kind == KindFailover && r.cfg.Recover.DNS != nil && r.cfg.Recover.DNS.Mode == spec.DNSFailoverRecords
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
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

// stateStore opens the state store for what recovery must keep between
// operations (the record prepare replaced). The CLI may hold its own handle
// on the same store: both backends allow it.
func stateStore(ctx context.Context, cfg *spec.Config, env *awsenv.Env) (state.Store, error) {
	s, err := state.Open(ctx, cfg, env)
	if err != nil {
		return nil, fmt.Errorf("state store of %s: %w", cfg.Stack, err)
	}
	return s, nil
}

// ErrControlPlaneDown marks a DNS step that needed a control plane living
// in the failed region.
var ErrControlPlaneDown = errors.New("Route 53 control plane unreachable")
