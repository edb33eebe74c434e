package points

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Protect jobs: the non-blocking form of a cycle. A cycle for one resource
// is a job that moves through phases; Step advances every job as far as it
// can without waiting and returns, so that a Lambda invocation or a daemon
// tick ends in seconds while a copy runs for hours in AWS. What a job is
// doing is always read back from AWS (the points' names, tags and states);
// the job record in the state store only says which tick started it, its
// phase for `status`, and when.

// JobPhase is where a resource's protect job is.
type JobPhase string

const (
	PhaseSnapshotting JobPhase = "snapshotting"
	PhaseCopying      JobPhase = "copying"
	PhasePruning      JobPhase = "pruning"
	PhaseDone         JobPhase = "done"
	PhaseFailed       JobPhase = "failed"
)

// Finished reports whether a job in this phase will not move any more.
func (p JobPhase) Finished() bool { return p == PhaseDone || p == PhaseFailed }

// Job is the record of one resource's newest protect job.
type Job struct {
	Stack    string   `json:"stack"`
	Resource string   `json:"resource"`
	Kind     Kind     `json:"kind"`
	Tick     string   `json:"tick,omitempty"`
	Phase    JobPhase `json:"phase"`
	// Point is the primary point the job protects, Copy its DR copy.
	Point  string `json:"point,omitempty"`
	Copy   string `json:"copy,omitempty"`
	Engine string `json:"engine,omitempty"`
	// BackupJob and CopyJob are the AWS Backup jobs (aws-backup engine).
	BackupJob string    `json:"backup_job,omitempty"`
	CopyJob   string    `json:"copy_job,omitempty"`
	Started   time.Time `json:"started"`
	Updated   time.Time `json:"updated"`
	Error     string    `json:"error,omitempty"`
}

// Age is how long the job has run (until its last update once finished).
func (j Job) Age(now time.Time) time.Duration {
	if j.Phase.Finished() {
		return j.Updated.Sub(j.Started)
	}
	return now.Sub(j.Started)
}

// JobKey is where resource's job record lives in the state store.
func JobKey(stack, resource string) string { return "jobs/" + stack + "/" + resource + ".json" }

// Jobs returns the newest job of every resource of stack that has one, for
// `status` and `points` to show phase and age.
func Jobs(ctx context.Context, store state.Store, stack string) ([]Job, error) {
	keys, err := store.List(ctx, "jobs/"+stack+"/")
	if err != nil {
		return nil, fmt.Errorf("list protect jobs of %s: %w", stack, err)
	}
	var out []Job
	for _, k := range keys {
		j, err := loadJob(ctx, store, k)
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, *j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Resource < out[b].Resource })
	return out, nil
}

func loadJob(ctx context.Context, store state.Store, key string) (*Job, error) {
	data, err := store.Get(ctx, key)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("protect job %s: %w", key, err)
	}
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("protect job %s is unreadable: %w", key, err)
	}
	return &j, nil
}

func saveJob(ctx context.Context, store state.Store, j Job) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := store.Put(ctx, JobKey(j.Stack, j.Resource), data); err != nil {
		return fmt.Errorf("protect job of %s: %w", j.Resource, err)
	}
	return nil
}

// leaseTTL bounds how long a crashed step (a Lambda killed at its deadline)
// holds a resource: a step makes a few API calls and never waits, so a
// lease older than this belongs to a process that is gone.
const leaseTTL = 10 * time.Minute

// errBusy is returned by lease when another step holds the resource.
var errBusy = errors.New("another step holds the resource")

// lease takes key in store with the state store's conditional lock (bbolt's
// exclusive transaction, DynamoDB's attribute_not_exists), so that one
// resource has one step at a time across processes. An expired lease is
// taken over by its id, which fails harmlessly if someone else did first.
//
// Leases age by the wall clock, never by BackupOptions.Now: the lock
// records the wall-clock time it was taken.
func lease(ctx context.Context, store state.Store, key, operation string) (func(context.Context) error, error) {
	for range 2 {
		release, err := store.Lock(ctx, key, operation)
		var le *state.LockedError
		switch {
		case err == nil:
			return release, nil
		case !errors.As(err, &le):
			return nil, err
		case time.Since(le.Holder.Started) < leaseTTL && !le.Stale:
			return nil, errBusy
		}
		if err := store.ForceUnlock(ctx, key, le.Holder.ID); err != nil && !errors.Is(err, state.ErrNotLocked) {
			slog.Debug("expired lease taken over by someone else", "lease", key, "error", err)
		}
	}
	return nil, errBusy
}

func leaseKey(stack, resource string) string { return stack + "/protect/" + resource }

// Step advances the protect job of every configured database and image (or
// those in opts.Only) as far as it can without waiting, and returns: it
// starts a snapshot, starts a copy when AWS's copy quota has room, checks
// what is running, prunes once the copy is available. A job still running
// is reported with its phase and InProgress, never as a failure; the error
// names only resources whose step failed.
//
// opts.Store makes steps safe to run from several processes at once: each
// resource is leased for the step (a concurrent step of it reports the job
// InProgress and does nothing), copy slots are counted from the copies in
// progress in the DR region under a short store lock, and the job record
// carries opts.Tick so a retried tick joins its job instead of taking a
// second snapshot. opts.ContinueOnly starts no new job.
func Step(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts BackupOptions) (*BackupReport, error) {
	return step(ctx, newClients(env), cfg, opts)
}

func step(ctx context.Context, c *clients, cfg *spec.Config, opts BackupOptions) (*BackupReport, error) {
	if opts.DryRun {
		return nil, errors.New("step: a dry run is a Backup option")
	}
	ts, err := opts.start(cfg)
	if err != nil {
		return nil, err
	}
	cy := &cycle{c: c, cfg: cfg, opts: opts}
	rep := &BackupReport{Results: make([]ResourceResult, len(ts))}
	eachTarget(ctx, ts, opts.Parallelism, func(i int, t target) {
		rep.Results[i] = cy.stepOne(ctx, t)
	}, func(i int, t target, err error) {
		rep.Results[i] = ResourceResult{Resource: t.name, Kind: t.kind, Phase: PhaseFailed, Error: "not started: " + err.Error()}
	})
	return rep, rep.failure("protect step", len(ts))
}

// Pending returns the results whose job is still running.
func (r *BackupReport) Pending() []ResourceResult {
	var out []ResourceResult
	for _, x := range r.Results {
		if x.InProgress {
			out = append(out, x)
		}
	}
	return out
}

// stepOne advances one resource's job.
func (cy *cycle) stepOne(ctx context.Context, t target) (res ResourceResult) {
	start := time.Now()
	now := cy.opts.Now().UTC()
	res = ResourceResult{Resource: t.name, Kind: t.kind}
	log := cy.opts.Log.With("stack", cy.cfg.Stack, "resource", t.name, "kind", string(t.kind))
	store := cy.opts.Store
	var job Job
	if store != nil {
		release, err := lease(ctx, store, leaseKey(cy.cfg.Stack, t.name), "protect")
		if errors.Is(err, errBusy) {
			// A retry or an overlapping tick: the holder advances the job.
			// Its record says where the job is; a finished job of this
			// tick (or any, when starting none) is reported as finished.
			res.Joined, res.InProgress, res.Phase = true, true, PhaseSnapshotting
			if j, _ := loadJob(ctx, store, JobKey(cy.cfg.Stack, t.name)); j != nil {
				res.Since, res.Point, res.Copied = j.Started, j.Point, j.Copy
				sameTick := cy.opts.ContinueOnly || cy.opts.Tick != "" && j.Tick == cy.opts.Tick
				if !j.Phase.Finished() || sameTick {
					res.Phase, res.InProgress = j.Phase, !j.Phase.Finished()
				}
			}
			return res
		}
		if err != nil {
			res.Phase, res.Error = PhaseFailed, fmt.Sprintf("lease: %v", err)
			return res
		}
		defer func() {
			if err := release(context.WithoutCancel(ctx)); err != nil {
				log.Warn("release protect lease", "error", err)
			}
		}()
		if j, err := loadJob(ctx, store, JobKey(cy.cfg.Stack, t.name)); err != nil {
			res.Phase, res.Error = PhaseFailed, err.Error()
			return res
		} else if j != nil {
			job = *j
		}
	}
	defer func() {
		res.Duration = time.Since(start)
		if res.Error != "" {
			res.Phase = PhaseFailed
			log.Error("protect step failed", "error", res.Error)
		}
		res.InProgress = !res.Phase.Finished()
		if store == nil {
			return
		}
		if job.Resource == "" || res.Created != "" {
			job = Job{Stack: cy.cfg.Stack, Resource: t.name, Kind: t.kind, Tick: cy.opts.Tick, Started: now, Engine: res.Engine}
		}
		if res.BackupJob != "" {
			job.BackupJob = res.BackupJob
		}
		if res.CopyJob != "" {
			job.CopyJob = res.CopyJob
		}
		job.Phase, job.Updated, job.Error = res.Phase, now, res.Error
		if res.Point != "" {
			job.Point = res.Point
		}
		if res.Copied != "" {
			job.Copy = res.Copied
		}
		res.Since = job.Started
		if err := saveJob(context.WithoutCancel(ctx), store, job); err != nil {
			log.Warn("record protect job", "error", err)
		}
	}()
	choice, err := cy.c.engineOf(ctx, cy.cfg, store, t)
	if err != nil {
		res.Phase, res.Error = PhaseFailed, err.Error()
		return res
	}
	res.Engine = choice.Engine
	if choice.Engine == EngineAWSBackup {
		res.Phase, res.Error = cy.advanceBackup(ctx, t, &res, job, now)
		return res
	}
	res.Phase, res.Error = cy.advance(ctx, t, &res, job, now)
	return res
}

// advance does one step of t's job and returns its phase after it, or an
// error message.
func (cy *cycle) advance(ctx context.Context, t target, res *ResourceResult, job Job, now time.Time) (JobPhase, string) {
	fail := func(err error) (JobPhase, string) { return PhaseFailed, err.Error() }
	s := scope{cfg: cy.cfg, t: t}
	k := cy.c.kind(t.kind)
	P, D := cy.cfg.Primary.Region, cy.cfg.DR.Region
	prim, err := k.list(ctx, cy.cfg, t, P)
	if err != nil {
		return fail(err)
	}
	dr, err := k.list(ctx, cy.cfg, t, D)
	if err != nil {
		return fail(err)
	}
	work, existingCopy, resume, stale := decide(prim, dr, t, now)
	if stale.ID != "" && stale.ID == job.Point && !job.Phase.Finished() {
		// This job's own point, queued for a copy slot past the schedule
		// interval: finish it rather than leave the job behind.
		work, resume = stale, true
		existingCopy, _ = copyIn(dr, stale)
	}
	joined := job.Resource != "" && cy.opts.Tick != "" && job.Tick == cy.opts.Tick && job.Phase != PhaseFailed
	if !resume && job.Point != "" && !job.Phase.Finished() {
		// The recorded job's copy completed since the last step: it is
		// done, and this step may start the next one.
		if p, ok := byID(prim, job.Point); ok {
			if dc, ok := copyIn(dr, p); ok && dc.Available() {
				res.Finished = dc.ID
			}
		}
	}
	var key string
	switch {
	case resume:
		if job.Point != work.ID {
			res.Resumed = work.ID
		}
	case cy.opts.ContinueOnly || joined:
		// Nothing unfinished and no new job wanted: the job is done once
		// retention has run (again: it is idempotent).
		if nd, ok := newestAvailable(dr); ok {
			res.Point, res.Copied = nd.CopyOf, nd.ID
		}
		if _, _, err := cy.prune(ctx, s, k, prim, dr, now); err != nil {
			return fail(err)
		}
		return PhaseDone, ""
	default:
		src, srcKey, err := cy.source(ctx, s, k)
		if err != nil {
			return fail(err)
		}
		key = srcKey
		name := cy.name(t, now)
		if same, ok := byName(prim, name); ok && same.Managed {
			work, res.Resumed = same, same.ID
			existingCopy, _ = copyIn(dr, same)
		} else {
			if work, err = k.create(ctx, s, src, name, now); err != nil {
				return fail(err)
			}
			res.Created = work.ID
			cy.opts.Log.Info("point created", "stack", cy.cfg.Stack, "resource", t.name, "point", work.ID, "region", P)
			work = refresh(ctx, k, s, work)
		}
	}
	res.Point = work.ID
	if work.inProgress() {
		return PhaseSnapshotting, ""
	}
	if !work.Available() {
		return fail(fmt.Errorf("%s %s in %s is %s, not available", t.kind, work.ID, P, work.Status))
	}

	d := existingCopy
	switch {
	case d.ID != "" && d.inProgress():
		return PhaseCopying, ""
	case d.ID != "" && d.Status != StatusFailed:
		if !d.Managed {
			d.Created, d.Source, d.CopyOf, d.tags = work.Created, work.Source, work.ID, copyTags(work)
		}
	default:
		if t.kind == KindAMI {
			// An image's snapshots are known, and tagged, once it is
			// available (ami.wait); it is, so this returns at once.
			if work, err = k.wait(ctx, s, work); err != nil {
				return fail(err)
			}
		}
		if work.Encrypted && key == "" {
			if key, err = cy.c.drKey(ctx, s); err != nil {
				return fail(err)
			}
		}
		started, err := cy.startCopy(ctx, s, k, work, d, key)
		if err != nil {
			return fail(err)
		}
		if started.ID == "" {
			// No copy slot in AWS's quota now: the next step tries again.
			res.Queued = true
			return PhaseCopying, ""
		}
		d = refresh(ctx, k, s, started)
		if d.inProgress() {
			return PhaseCopying, ""
		}
	}
	if !d.Managed {
		// Done but untagged (an adopted copy, or moto's CopyImage): wait
		// returns at once for an available point and completes its tags.
		if d, err = k.wait(ctx, s, d); err != nil {
			return fail(err)
		}
	}
	if !d.Available() {
		return PhaseCopying, ""
	}
	res.Copied = d.ID
	deleted, _, err := cy.prune(ctx, s, k, upsert(prim, work), upsert(dr, d), now)
	res.Deleted = deleted
	if err != nil {
		return fail(err)
	}
	return PhaseDone, ""
}

// startCopy starts the copy of work when AWS's copy quota for the DR
// region has room, and returns it; a zero point means no slot was free.
// A failed copy holding the name is removed first.
func (cy *cycle) startCopy(ctx context.Context, s scope, k kindOps, work, failed Point, key string) (Point, error) {
	var d Point
	err := cy.c.withCopySlot(ctx, cy.opts.Store, s, max(len(work.Snapshots), 1), func() error {
		if failed.ID != "" {
			if err := k.remove(ctx, s, failed); err != nil {
				return err
			}
		}
		var err error
		d, err = k.copy(ctx, s, work, key)
		return err
	})
	if errors.Is(err, errNoSlot) {
		return Point{}, nil
	}
	if err != nil {
		return Point{}, err
	}
	return d, nil
}

// The copy engines a database can use (spec: protect.databases[].engine).
const (
	EngineSnapshotCopy = "snapshot-copy"
	EngineAWSBackup    = "aws-backup"
	EngineAuto         = "auto"
)

// StepUntilDone is the waiting form of Step for `backup` on the command
// line: one Step as opts asks, then ContinueOnly steps with back-off
// (MinDelay doubling to MaxDelay of the waits) until no job is in progress
// or ctx ends. progress, when set, sees every step's report. The last
// report is returned; its error names resources whose job failed.
func StepUntilDone(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts BackupOptions, progress func(*BackupReport)) (*BackupReport, error) {
	return stepUntilDone(ctx, newClients(env), cfg, opts, progress)
}

func stepUntilDone(ctx context.Context, c *clients, cfg *spec.Config, opts BackupOptions, progress func(*BackupReport)) (*BackupReport, error) {
	delay := c.waits.MinDelay
	var order []string
	latest := map[string]ResourceResult{}
	final := func() (*BackupReport, error) {
		rep := &BackupReport{}
		var msgs []string
		for _, name := range order {
			r := latest[name]
			rep.Results = append(rep.Results, r)
			if r.Error != "" {
				msgs = append(msgs, fmt.Sprintf("%s (%s): %s", r.Resource, r.Kind, r.Error))
			}
		}
		if len(msgs) > 0 {
			return rep, fmt.Errorf("backup failed for %d of %d resources: %s", len(msgs), len(order), strings.Join(msgs, "; "))
		}
		return rep, nil
	}
	for {
		rep, err := step(ctx, c, cfg, opts)
		if rep == nil {
			return nil, err
		}
		if progress != nil {
			progress(rep)
		}
		var next []string
		for _, r := range rep.Results {
			if _, seen := latest[r.Resource]; !seen {
				order = append(order, r.Resource)
			}
			// What a job made in an earlier step stays in its result.
			prev := latest[r.Resource]
			r.Created = cmp.Or(r.Created, prev.Created)
			r.Resumed = cmp.Or(r.Resumed, prev.Resumed)
			r.Deleted = append(prev.Deleted, r.Deleted...)
			r.Duration += prev.Duration
			latest[r.Resource] = r
			if r.InProgress {
				next = append(next, r.Resource)
			}
		}
		if len(next) == 0 {
			return final()
		}
		opts.Only, opts.ContinueOnly = next, true
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			rep, _ := final()
			return rep, fmt.Errorf("protect jobs still running (%s): %w", strings.Join(next, ", "), ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, c.waits.MaxDelay)
	}
}

// engineOf resolves t's engine once per run.
func (c *clients) engineOf(ctx context.Context, cfg *spec.Config, store state.Store, t target) (EngineChoice, error) {
	c.mu.Lock()
	ch, ok := c.engines[t.name]
	c.mu.Unlock()
	if ok {
		return ch, nil
	}
	ch, err := c.resolveEngine(ctx, cfg, store, t)
	if err != nil {
		return ch, err
	}
	c.mu.Lock()
	if c.engines == nil {
		c.engines = map[string]EngineChoice{}
	}
	c.engines[t.name] = ch
	c.mu.Unlock()
	return ch, nil
}

// refresh reads p once more right after it was started: a small snapshot
// can be ready at once, and then the job moves on in the same step. Any
// error leaves p as it was, for the next step to read.
func refresh(ctx context.Context, k kindOps, s scope, p Point) Point {
	got, err := k.get(ctx, s.cfg, s.t, p.Region, p.ID)
	if err != nil || got.ID != p.ID {
		return p
	}
	if !got.Managed {
		got.Created, got.Source, got.CopyOf, got.tags = p.Created, p.Source, p.CopyOf, p.tags
	}
	got.Encrypted = got.Encrypted || p.Encrypted
	return got
}

// byID finds the point with id.
func byID(ps []Point, id string) (Point, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Point{}, false
}
