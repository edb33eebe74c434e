package points

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// BackupOptions tune one protect cycle.
type BackupOptions struct {
	// Only limits the cycle to these databases and images.
	Only []string
	// DryRun lists what would be created, copied and deleted; it reads but
	// changes nothing.
	DryRun bool
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Parallelism bounds resources protected at once (default 64). It is
	// above the sum of AWS's copy quotas (copyQuotas: 20 + 5 + 20) so that on
	// AWS, where a cycle is mostly waiting, those quotas and not this bound
	// decide how many points are in flight; waiting costs one poll per
	// resource every 15 s to 2 min.
	Parallelism int
	Log         *slog.Logger
	// InUse are point ids retention must keep whatever keep says, on top of
	// those Store's journals name (see InUse).
	InUse []string
	// Store, when set, is read just before each resource's retention for the
	// points unfinished failovers, drills and failbacks restore from, so a
	// cycle never deletes a point a recovery started during the cycle chose.
	// When it cannot be read, nothing is deleted.
	Store state.Store
	// Tick names the schedule tick that runs Step (the scheduled time, the
	// same on every retry of it): a step whose tick started the resource's
	// newest job joins that job rather than taking another point.
	Tick string
	// ContinueOnly makes Step advance running jobs and start none.
	ContinueOnly bool
}

// start fills o's defaults and returns the cycle's targets, for Backup and
// Step alike.
func (o *BackupOptions) start(cfg *spec.Config) ([]target, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ts, err := targets(cfg, o.Only)
	if err != nil {
		return nil, err
	}
	// A config built in code skips spec's validation; never start a cycle
	// whose copies would cross a partition.
	if err := checkCopy(cfg.Primary.Region, cfg.DR.Region, ""); err != nil {
		return nil, err
	}
	return ts, nil
}

// eachTarget runs do for every target, at most parallelism at once, and
// returns when all have finished; a target still waiting for its turn when
// ctx ends gets notStarted instead, so every target has a result.
func eachTarget(ctx context.Context, ts []target, parallelism int, do func(i int, t target), notStarted func(i int, t target, err error)) {
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				do(i, t)
			case <-ctx.Done():
				notStarted(i, t, ctx.Err())
			}
		}()
	}
	wg.Wait()
}

// ResourceResult is what a cycle did for one resource.
type ResourceResult struct {
	Resource string `json:"resource"`
	Kind     Kind   `json:"kind"`
	// Created is the new primary point, Copied its DR copy.
	Created string `json:"created,omitempty"`
	Copied  string `json:"copied,omitempty"`
	// Resumed is an unfinished point from an earlier run that this cycle
	// finished instead of taking a new one.
	Resumed string `json:"resumed,omitempty"`
	// Deleted lists pruned points as region/id.
	Deleted  []string      `json:"deleted,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`

	// Step's view of the job: its phase after the step, the primary point
	// it protects, and when it started (with a store).
	Phase JobPhase  `json:"phase,omitempty"`
	Point string    `json:"point,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// InProgress is set while the job still runs in AWS: not a failure.
	InProgress bool `json:"in_progress,omitempty"`
	// Queued is set when the copy waits for a slot in AWS's copy quota.
	Queued bool `json:"queued,omitempty"`
	// Joined is set when another step held the resource: this one did
	// nothing and reports that job's phase.
	Joined bool `json:"joined,omitempty"`
	// Finished is the DR copy that completed the previous job when this
	// step found it done and went on to start the next.
	Finished string `json:"finished,omitempty"`
	// Engine is the copy engine the job uses; BackupJob and CopyJob are the
	// AWS Backup job ids the step started (aws-backup engine).
	Engine    string `json:"engine,omitempty"`
	BackupJob string `json:"backup_job,omitempty"`
	CopyJob   string `json:"copy_job,omitempty"`
}

// BackupReport is the result of one cycle.
type BackupReport struct {
	Results []ResourceResult `json:"results"`
	// Planned are the dry run's lines: what would be created and deleted.
	Planned []string `json:"planned,omitempty"`
	DryRun  bool     `json:"dry_run,omitempty"`
}

// failure is nil when no result carries an error, else an error naming
// every failed resource and why, of the n the operation ran.
func (r *BackupReport) failure(operation string, n int) error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	msgs := make([]string, len(failed))
	for i, f := range failed {
		msgs[i] = fmt.Sprintf("%s (%s): %s", f.Resource, f.Kind, f.Error)
	}
	return fmt.Errorf("%s failed for %d of %d resources: %s", operation, len(failed), n, strings.Join(msgs, "; "))
}

// Failed returns the results that carry an error.
func (r *BackupReport) Failed() []ResourceResult {
	var out []ResourceResult
	for _, x := range r.Results {
		if x.Error != "" {
			out = append(out, x)
		}
	}
	return out
}

// Backup runs one protect cycle for every configured database and image (or
// those in opts.Only): take a point, wait for it, copy it to the DR region,
// wait for the copy, prune both regions. Resources run in parallel; one
// failing does not stop the others. The error, when not nil, names every
// failed resource and why; the report is returned either way.
func Backup(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts BackupOptions) (*BackupReport, error) {
	return backup(ctx, newClients(env), cfg, opts)
}

// With opts.Store (and not a dry run) the cycle is StepUntilDone: steps
// with leases, copy quotas counted from AWS and every copy engine. Without
// it, the cycle runs in this process alone with in-process copy quotas,
// and a database on the aws-backup or auto engine fails.
func backup(ctx context.Context, c *clients, cfg *spec.Config, opts BackupOptions) (*BackupReport, error) {
	if opts.Store != nil && !opts.DryRun {
		return stepUntilDone(ctx, c, cfg, opts, nil)
	}
	ts, err := opts.start(cfg)
	if err != nil {
		return nil, err
	}
	quotas := c.quotas
	if quotas == nil {
		quotas = regionQuotas(cfg.DR.Region)
	}
	cy := &cycle{c: c, cfg: cfg, opts: opts, quotas: quotas}
	rep := &BackupReport{Results: make([]ResourceResult, len(ts)), DryRun: opts.DryRun}
	plans := make([][]string, len(ts))
	eachTarget(ctx, ts, opts.Parallelism, func(i int, t target) {
		rep.Results[i], plans[i] = cy.protect(ctx, t)
	}, func(i int, t target, err error) {
		rep.Results[i] = ResourceResult{Resource: t.name, Kind: t.kind, Error: "not started: " + err.Error()}
	})
	for _, p := range plans {
		rep.Planned = append(rep.Planned, p...)
	}
	return rep, rep.failure("backup", len(ts))
}

// cycle is one run of Backup.
type cycle struct {
	c      *clients
	cfg    *spec.Config
	opts   BackupOptions
	quotas *copyQuotas

	inUseMu   sync.Mutex
	inUse     []string
	inUseRead time.Time
}

// inUseTTL is how long one read of the journals serves the resources that
// prune in the same step: reading them costs a list and a get per run.
const inUseTTL = 2 * time.Second

// pointsInUse is opts.InUse plus, with a store, what unfinished runs use,
// read at most every inUseTTL.
func (cy *cycle) pointsInUse(ctx context.Context) ([]string, error) {
	base := cy.opts.InUse
	if cy.opts.Store == nil {
		return base, nil
	}
	cy.inUseMu.Lock()
	defer cy.inUseMu.Unlock()
	if cy.inUseRead.IsZero() || time.Since(cy.inUseRead) > inUseTTL {
		more, err := InUse(ctx, cy.opts.Store, cy.cfg.Stack)
		if err != nil {
			return nil, err
		}
		cy.inUse, cy.inUseRead = more, time.Now()
	}
	return append(slices.Clip(base), cy.inUse...), nil
}

// protect runs the cycle for one resource. It never panics on AWS errors:
// every failure ends up in the result's Error.
func (cy *cycle) protect(ctx context.Context, t target) (res ResourceResult, plan []string) {
	start := time.Now()
	res = ResourceResult{Resource: t.name, Kind: t.kind}
	log := cy.opts.Log.With("stack", cy.cfg.Stack, "resource", t.name, "kind", string(t.kind))
	defer func() {
		res.Duration = time.Since(start)
		if res.Error != "" {
			log.Error("protect failed", "error", res.Error)
		}
	}()
	fail := func(err error) (ResourceResult, []string) {
		res.Error = err.Error()
		return res, plan
	}
	s := scope{cfg: cy.cfg, t: t}
	k := cy.c.kind(t.kind)
	P, D := cy.cfg.Primary.Region, cy.cfg.DR.Region
	if t.db != nil && t.db.Engine != "" && t.db.Engine != EngineSnapshotCopy {
		return fail(fmt.Errorf("%s: engine %s records its jobs in the state store: run the cycle with one (BackupOptions.Store)", t.name, t.db.Engine))
	}

	prim, err := k.list(ctx, cy.cfg, t, P)
	if err != nil {
		return fail(err)
	}
	dr, err := k.list(ctx, cy.cfg, t, D)
	if err != nil {
		return fail(err)
	}
	now := cy.opts.Now().UTC()

	work, existingCopy, resume, stale := decide(prim, dr, t, now)
	if stale.ID != "" {
		// Not silent: the point stays for retention to remove.
		log.Warn("an unfinished point is older than the schedule interval: taking a new one instead",
			"point", stale.ID, "age", now.Sub(stale.Created).Round(time.Second).String())
	}

	var key string
	if resume {
		res.Resumed = work.ID
		if work.Encrypted && (existingCopy.ID == "" || existingCopy.Status == StatusFailed) {
			if key, err = cy.c.drKey(ctx, s); err != nil {
				return fail(err)
			}
		}
		if cy.opts.DryRun {
			if existingCopy.ID != "" && existingCopy.Status != StatusFailed {
				plan = append(plan, fmt.Sprintf("%s: wait for the unfinished copy %s of %s in %s", t.name, existingCopy.ID, work.ID, D))
			} else {
				plan = append(plan, fmt.Sprintf("%s: resume: copy the uncopied %s %s to %s%s", t.name, t.kind, work.ID, D, keyNote(key)))
			}
		}
	} else {
		// Everything that can fail before a point exists happens here: the
		// source must exist and an encrypted one needs a usable DR key.
		src, srcKey, err := cy.source(ctx, s, k)
		if err != nil {
			return fail(err)
		}
		key = srcKey
		name := cy.name(t, now)
		work = Point{ID: name, Name: name, Resource: t.name, Kind: t.kind, Region: P, Source: src.ID,
			Created: now, Status: StatusAvailable, Managed: true, Encrypted: src.Encrypted}
		switch same, ok := byName(prim, name); {
		case ok && same.Managed:
			// A run earlier in the same second made this point: finish it.
			work, res.Resumed = same, same.ID
			existingCopy, _ = copyIn(dr, same)
			if cy.opts.DryRun {
				plan = append(plan, fmt.Sprintf("%s: finish %s, made earlier this second", t.name, name))
			}
		case cy.opts.DryRun:
			plan = append(plan,
				fmt.Sprintf("%s: create %s %s of %s in %s", t.name, t.kind, name, src.ID, P),
				fmt.Sprintf("%s: copy %s to %s%s", t.name, name, D, keyNote(key)))
		default:
			p, err := k.create(ctx, s, src, name, now)
			if err != nil {
				return fail(err)
			}
			res.Created = p.ID
			log.Info("point created", "point", p.ID, "region", P)
			work = p
		}
	}

	var copied Point
	if cy.opts.DryRun {
		copied = Point{ID: work.ID + "(copy)", Name: work.Name, Region: D, CopyOf: work.ID, Created: work.Created,
			Status: StatusAvailable, Managed: true}
		work.Status = StatusAvailable
	} else {
		if work.inProgress() {
			if work, err = k.wait(ctx, s, work); err != nil {
				return fail(err)
			}
		} else if t.kind == KindAMI && res.Created == "" {
			// A resumed image: its snapshots may not have been tagged yet.
			if work, err = k.wait(ctx, s, work); err != nil {
				return fail(err)
			}
		}
		if !work.Available() {
			return fail(fmt.Errorf("%s %s in %s is %s, not available", t.kind, work.ID, P, work.Status))
		}
		if copied, err = cy.copy(ctx, s, k, work, existingCopy, key); err != nil {
			return fail(err)
		}
		res.Copied = copied.ID
		log.Info("point copied", "point", work.ID, "copy", copied.ID, "region", D)
	}

	// Retention runs only after this cycle's point is safe in the DR region
	// (the seed deleted first), over the lists plus what this cycle made.
	deleted, lines, err := cy.prune(ctx, s, k, upsert(prim, work), upsert(dr, copied), now)
	res.Deleted, plan = deleted, append(plan, lines...)
	if err != nil {
		return fail(err)
	}
	if cy.opts.DryRun {
		res.Created, res.Copied = "", ""
	}
	return res, plan
}

// source inspects the resource in the primary region and, when it is
// encrypted, finds the DR key its copy needs: what can fail before a point
// exists, checked before one is taken.
func (cy *cycle) source(ctx context.Context, s scope, k kindOps) (source, string, error) {
	src, err := k.source(ctx, s)
	if err != nil || !src.Encrypted {
		return src, "", err
	}
	key, err := cy.c.drKey(ctx, s)
	return src, key, err
}

// prune applies retention to both regions' lists and deletes (or, in a dry
// run, lists) what it returns. It reports region/id of each deleted point.
func (cy *cycle) prune(ctx context.Context, s scope, k kindOps, prim, dr []Point, now time.Time) (deleted, plan []string, err error) {
	protected := ""
	if np, ok := newestAvailable(dr); ok {
		protected = np.CopyOf
		if protected == "" {
			protected = np.ID
		}
	}
	var primCands []Point
	for _, p := range prim {
		// Deleting a source whose copy is still running may fail the copy.
		if dc, ok := copyIn(dr, p); ok && dc.inProgress() {
			continue
		}
		primCands = append(primCands, p)
	}
	inUse, err := cy.pointsInUse(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("retention of %s skipped: %w", s.t.name, err)
	}
	keep := s.t.keep
	dels := append(PruneInUse(primCands, keep, "primary", protected, inUse, now), PruneInUse(dr, keep, "dr", protected, inUse, now)...)
	var errs []error
	for _, p := range dels {
		if cy.opts.DryRun {
			plan = append(plan, fmt.Sprintf("%s: delete %s %s in %s (retention)", s.t.name, s.t.kind, p.ID, p.Region))
			continue
		}
		if err := k.remove(ctx, s, p); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, p.Region+"/"+p.ID)
		cy.opts.Log.Info("point deleted", "stack", s.cfg.Stack, "resource", s.t.name, "point", p.ID, "region", p.Region)
	}
	if err := errors.Join(errs...); err != nil {
		return deleted, plan, fmt.Errorf("retention: %w", err)
	}
	return deleted, plan, nil
}

// copy copies work to the DR region (or takes over the unfinished copy
// found there) and waits for it, holding a copy slot throughout: AWS's
// quotas count copies in progress, not calls.
func (cy *cycle) copy(ctx context.Context, s scope, k kindOps, work, existing Point, key string) (Point, error) {
	release, err := cy.quotas.acquire(ctx, s.t.kind, len(work.Snapshots))
	if err != nil {
		return Point{}, fmt.Errorf("wait for a copy slot in %s: %w", s.cfg.DR.Region, err)
	}
	defer release()
	var d Point
	switch {
	case existing.ID != "" && existing.Status != StatusFailed:
		d = existing
		if !d.Managed {
			// Adopt a copy whose tagging was interrupted: it is ours by
			// name and description; wait tags it as a copy of work.
			d.Created, d.Source, d.CopyOf, d.tags = work.Created, work.Source, work.ID, copyTags(work)
		}
	default:
		if existing.ID != "" {
			// A failed copy holds the name a new copy needs.
			if err := k.remove(ctx, s, existing); err != nil {
				return Point{}, err
			}
		}
		if d, err = k.copy(ctx, s, work, key); err != nil {
			return Point{}, err
		}
	}
	return k.wait(ctx, s, d)
}

func (cy *cycle) name(t target, now time.Time) string {
	switch t.kind {
	case KindAMI:
		return amiName(cy.cfg.Stack, t.name, now)
	case KindRDSCluster:
		return pointName(cy.cfg.Stack, t.name, now, clusterIDMax)
	}
	return pointName(cy.cfg.Stack, t.name, now, rdsIDMax)
}

func keyNote(key string) string {
	if key == "" {
		return ""
	}
	return " with KMS key " + key
}

// decide picks the cycle's work. A new point is taken unless the newest
// managed primary point is unfinished: its DR copy is missing, running,
// untagged or failed. Such a point is finished instead of taking another
// (a crashed run must neither be left behind nor cause a second snapshot)
// when its copy is running, it is itself still being made, or it is younger
// than the schedule interval; an older one is returned as stale and left
// for retention, since a fresh point serves the RPO better than an old copy.
func decide(prim, dr []Point, t target, now time.Time) (work, existingCopy Point, resume bool, stale Point) {
	last, ok := newestManaged(prim)
	if !ok {
		return Point{}, Point{}, false, Point{}
	}
	dc, hasCopy := copyIn(dr, last)
	switch {
	case hasCopy && dc.Managed && dc.Available():
		return Point{}, Point{}, false, Point{}
	case hasCopy && dc.Status != StatusFailed:
		// running, or done but untagged: take it over, never copy twice
		return last, dc, true, Point{}
	case last.inProgress() || now.Sub(last.Created) < t.every:
		if hasCopy {
			return last, dc, true, Point{}
		}
		return last, Point{}, true, Point{}
	}
	return Point{}, Point{}, false, last
}

// newestManaged is the newest managed point that has not failed.
func newestManaged(ps []Point) (Point, bool) {
	var best Point
	found := false
	for _, p := range ps {
		if p.Managed && p.Status != StatusFailed && (!found || newer(p, best)) {
			best, found = p, true
		}
	}
	return best, found
}

// copyIn finds the DR copy of primary point p: a managed copy naming it,
// or an untagged one with its name and a description naming it. A usable
// copy wins over a failed one.
func copyIn(dr []Point, p Point) (Point, bool) {
	var best Point
	found := false
	for _, d := range dr {
		if d.CopyOf != p.ID || !(d.Managed || d.Name == p.Name) {
			continue
		}
		if !found || (best.Status == StatusFailed && d.Status != StatusFailed) {
			best, found = d, true
		}
	}
	return best, found
}

// byName finds the point called name.
func byName(ps []Point, name string) (Point, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Point{}, false
}

// upsert replaces the point with p's id, or adds p.
func upsert(ps []Point, p Point) []Point {
	if p.ID == "" {
		return ps
	}
	out := make([]Point, 0, len(ps)+1)
	for _, q := range ps {
		if q.ID != p.ID {
			out = append(out, q)
		}
	}
	out = append(out, p)
	sortNewestFirst(out)
	return out
}

// copyQuotas bounds copies in progress per destination region as AWS does
// (a cycle has one destination, the DR region):
//   - RDS DB snapshots: "You can have up to 20 snapshot copy requests in
//     progress to a single destination Region per account" (Amazon RDS User
//     Guide, "Copying a DB snapshot", Limitations).
//   - Aurora DB cluster snapshots: "For each account, you can copy up to
//     five DB cluster snapshots at a time from one Region to another"
//     (Aurora User Guide, "Copying a DB cluster snapshot").
//   - AMIs: CopyImage copies each EBS snapshot of the image, and EBS allows
//     20 "Concurrent snapshot copies per destination Region" (Amazon EBS
//     quotas, not adjustable), so an image takes one slot per snapshot.
type copyQuotas struct {
	rds, cluster, ebs *slots
}

var (
	quotasMu       sync.Mutex
	quotasByRegion = map[string]*copyQuotas{}
)

// regionQuotas returns the process's copy quotas for a destination region:
// cycles running at once (the scheduler runs one per resource) share them,
// as they share AWS's per-account limits.
func regionQuotas(region string) *copyQuotas {
	quotasMu.Lock()
	defer quotasMu.Unlock()
	q := quotasByRegion[region]
	if q == nil {
		q = newCopyQuotas()
		quotasByRegion[region] = q
	}
	return q
}

func newCopyQuotas() *copyQuotas {
	return &copyQuotas{rds: newSlots(20), cluster: newSlots(5), ebs: newSlots(20)}
}

func (q *copyQuotas) acquire(ctx context.Context, k Kind, snapshots int) (func(), error) {
	switch k {
	case KindRDSCluster:
		return q.cluster.acquire(ctx, 1)
	case KindAMI:
		return q.ebs.acquire(ctx, max(snapshots, 1))
	}
	return q.rds.acquire(ctx, 1)
}

// slots is a weighted, context-aware semaphore.
type slots struct {
	acq  sync.Mutex // one acquirer at a time: two partial holds cannot deadlock
	ch   chan struct{}
	mu   sync.Mutex
	held int
	peak int
}

func newSlots(n int) *slots { return &slots{ch: make(chan struct{}, n)} }

func (s *slots) acquire(ctx context.Context, w int) (func(), error) {
	w = min(max(w, 1), cap(s.ch))
	s.acq.Lock()
	defer s.acq.Unlock()
	for i := 0; i < w; i++ {
		select {
		case s.ch <- struct{}{}:
		case <-ctx.Done():
			for j := 0; j < i; j++ {
				<-s.ch
			}
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	s.held += w
	s.peak = max(s.peak, s.held)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.held -= w
			s.mu.Unlock()
			for i := 0; i < w; i++ {
				<-s.ch
			}
		})
	}, nil
}

// Peak is the most slots held at once (for tests and benchmarks).
func (s *slots) Peak() int { s.mu.Lock(); defer s.mu.Unlock(); return s.peak }
