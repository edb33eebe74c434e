package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pilotlight/pilotlight/internal/state"
)

// Options configure a Daemon.
type Options struct {
	Stack  string
	Jobs   []Job
	Runner Runner
	// Store, when set, keeps each resource's last run (LastKey): a
	// restarted daemon continues the interval instead of running everything
	// at once, and `status` can read it.
	Store state.Store
	// MaxJitter caps the random delay added to every fire time; the delay
	// is also at most a tenth of the schedule's period, so that a 2s
	// schedule is not delayed by a minute. 0 means the default, 2 minutes;
	// a negative value turns jitter off.
	MaxJitter time.Duration
	// Seed makes jitter repeatable (0: random).
	Seed uint64
	// Parallelism bounds runs in progress across resources (default 4).
	Parallelism int
	// FollowUp is how soon after a run that left a protect job running
	// (a copy in AWS) the daemon checks on it again, without starting a
	// new job, so that a finished copy is pruned and shown done before the
	// next scheduled run. 0 means a quarter of the schedule's period, at
	// most 5 minutes.
	FollowUp time.Duration
	// RunTimeout bounds one run (default 1h): a protect step makes a few
	// calls and never waits on a copy, and a verify checkpoints, so a run
	// at its bound is cancelled and recorded as interrupted rather than
	// holding its resource for ever behind an endpoint that never answers.
	RunTimeout time.Duration
	// StuckAfter is how long a run may be in progress before /healthz
	// answers 503 "stuck" (default RunTimeout + 5m: a run still going past
	// its own bound is not honouring cancellation, and a restart is the
	// remedy a liveness probe can apply).
	StuckAfter time.Duration
	// Grace is how long runs in progress may go on after shutdown begins
	// before they are cancelled and recorded as interrupted (default 5m).
	Grace time.Duration
	Now   func() time.Time
	Log   *slog.Logger
	// EMF, when set, also gets each run as an embedded-metric-format
	// line, for CloudWatch where the daemon's output reaches CloudWatch
	// Logs (ECS with awslogs, the CloudWatch agent); /metrics has the
	// same figures for Prometheus.
	EMF *EMF
}

// Daemon runs jobs on their schedules until its context ends.
type Daemon struct {
	opts    Options
	metrics *Metrics
	started time.Time

	mu       sync.Mutex
	rnd      *rand.Rand
	status   map[string]*jobStatus
	stopping atomic.Bool
	running  atomic.Bool
}

// jobStatus is what the status page shows of one job.
type jobStatus struct {
	Job     Job
	Next    time.Time
	Running bool
	Since   time.Time
	Last    *Result
	// busy guards against two runs of one resource, whatever starts them.
	busy atomic.Bool
}

// New checks opts and builds a daemon; it starts nothing.
func New(opts Options) (*Daemon, error) {
	if opts.Runner == nil {
		return nil, errors.New("serve: no runner")
	}
	if len(opts.Jobs) == 0 {
		return nil, errors.New("serve: the config protects nothing: no databases, images or buckets to schedule")
	}
	if opts.MaxJitter == 0 {
		opts.MaxJitter = 2 * time.Minute
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.Grace <= 0 {
		opts.Grace = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	d := &Daemon{
		opts:    opts,
		metrics: NewMetrics(opts.Stack, opts.Now),
		rnd:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		status:  map[string]*jobStatus{},
	}
	for _, j := range opts.Jobs {
		if _, dup := d.status[j.Resource]; dup {
			return nil, fmt.Errorf("serve: resource %q is listed twice", j.Resource)
		}
		d.status[j.Resource] = &jobStatus{Job: j}
	}
	return d, nil
}

// Metrics returns the daemon's series.
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// Run schedules every job until ctx ends, then stops scheduling, lets runs
// in progress go on for the grace period (cancelling them after it), waits
// for them to be recorded, and returns. It returns nil on a clean stop.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("serve: daemon already running")
	}
	d.started = d.opts.Now()
	// Runs get a context of their own: shutdown must not cancel a copy
	// half-way, only the grace period may.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	sem := make(chan struct{}, d.opts.Parallelism)
	var wg sync.WaitGroup
	for _, j := range d.opts.Jobs {
		last := d.restore(ctx, j)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(ctx, runCtx, j, last, sem)
		}()
	}
	d.opts.Log.Info("serving", "stack", d.opts.Stack, "jobs", len(d.opts.Jobs))
	<-ctx.Done()
	d.stopping.Store(true)
	d.opts.Log.Info("shutting down: no new runs; runs in progress may finish", "grace", d.opts.Grace.String(), "running", d.Running())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(d.opts.Grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		d.opts.Log.Warn("grace period over: cancelling runs in progress; they are recorded as interrupted and resumed by the next run",
			"running", d.Running())
		cancelRuns()
		<-done
	}
	d.opts.Log.Info("stopped")
	return nil
}

// Running lists the resources with a run in progress.
func (d *Daemon) Running() []string {
	var out []string
	for _, j := range d.opts.Jobs {
		if d.status[j.Resource].busy.Load() {
			out = append(out, j.Resource)
		}
	}
	return out
}

// restore reads the job's last recorded run, if any.
func (d *Daemon) restore(ctx context.Context, j Job) *Result {
	if d.opts.Store == nil {
		return nil
	}
	data, err := d.opts.Store.Get(ctx, LastKey(j.Resource))
	if err != nil {
		if !errors.Is(err, state.ErrNotFound) {
			d.opts.Log.Warn("last run not read; scheduling from now", "resource", j.Resource, "error", err)
		}
		return nil
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		d.opts.Log.Warn("last run record unreadable; scheduling from now", "resource", j.Resource, "error", err)
		return nil
	}
	d.metrics.Restore(r)
	st := d.status[j.Resource]
	d.mu.Lock()
	st.Last = &r
	d.mu.Unlock()
	return &r
}

// loop runs one job: wait for its next fire time, run, repeat. One
// goroutine per job is what keeps a resource from running twice at once.
func (d *Daemon) loop(ctx, runCtx context.Context, j Job, last *Result, sem chan struct{}) {
	var lastStart time.Time
	var lastTick string
	pending := false
	if last != nil && last.OK {
		lastStart, pending = last.Started, last.Pending
		if last.FollowUp && !last.JobStarted.IsZero() {
			// A follow-up does not move the schedule: its job's first
			// run does.
			lastStart = last.JobStarted
		}
	}
	for {
		tick, at := d.nextFire(j, lastStart)
		if at.IsZero() {
			d.opts.Log.Info("schedule has no more fire times", "resource", j.Resource, "schedule", j.Schedule.String())
			return
		}
		trigger := Trigger{Name: "schedule", Tick: tick.UTC().Format(time.RFC3339Nano)}
		if pending {
			if f := d.opts.Now().Add(d.followUp(j)); f.Before(at) {
				at, trigger = f, Trigger{Name: "schedule", Tick: lastTick, FollowUp: true}
			}
		}
		d.setNext(j, at)
		if !d.sleepUntil(ctx, at) {
			return
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if !trigger.FollowUp {
			lastStart, lastTick = d.opts.Now(), trigger.Tick
		}
		// A protect run is one step of the job: it holds its slot for a
		// few API calls, never for the hours a copy takes in AWS, so
		// images and bucket verifies keep their schedules.
		r, ran := d.runOnce(runCtx, j, trigger)
		<-sem
		pending = ran && r.OK && r.Pending
	}
}

// followUp is how soon a pending protect job is checked again.
func (d *Daemon) followUp(j Job) time.Duration {
	if d.opts.FollowUp > 0 {
		return d.opts.FollowUp
	}
	return min(j.Schedule.Period(d.opts.Now())/4, 5*time.Minute)
}

// nextFire is when j runs next, jitter included. An interval schedule runs
// an interval after the last successful start, at once when that is past
// (fire times missed while a run was going are skipped, not queued); a
// cron schedule runs at its next wall-clock time. It returns the
// schedule's time (the run's tick) and that time with jitter.
func (d *Daemon) nextFire(j Job, lastStart time.Time) (tick, at time.Time) {
	now := d.opts.Now()
	if j.Schedule.IsCron() {
		at = j.Schedule.Next(now)
		if at.IsZero() {
			return at, at
		}
	} else {
		at = now
		if !lastStart.IsZero() {
			due := j.Schedule.Next(lastStart)
			if due.After(now) {
				at = due
			} else if iv := j.Schedule.Interval(); iv > 0 {
				d.metrics.skip(j, int(now.Sub(due)/iv))
			}
		}
	}
	return at, at.Add(d.jitter(j.Schedule.Period(now)))
}

// jitter spreads runs that share a schedule so that many resources (or
// many stacks) do not hit the same API at the same second.
func (d *Daemon) jitter(period time.Duration) time.Duration {
	limit := min(d.opts.MaxJitter, period/10)
	if limit <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.rnd.Int64N(int64(limit)))
}

func (d *Daemon) setNext(j Job, at time.Time) {
	d.mu.Lock()
	d.status[j.Resource].Next = at
	d.mu.Unlock()
	d.metrics.next(j, at)
}

// sleepUntil waits for t on the real clock; false when ctx ended first.
func (d *Daemon) sleepUntil(ctx context.Context, t time.Time) bool {
	wait := t.Sub(d.opts.Now())
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (d *Daemon) runTimeout() time.Duration {
	if d.opts.RunTimeout > 0 {
		return d.opts.RunTimeout
	}
	return time.Hour
}

func (d *Daemon) stuckAfter() time.Duration {
	if d.opts.StuckAfter > 0 {
		return d.opts.StuckAfter
	}
	return d.runTimeout() + 5*time.Minute
}

// Stuck lists the resources whose run has been in progress longer than
// StuckAfter.
func (d *Daemon) Stuck() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.opts.Now()
	var out []string
	for _, j := range d.opts.Jobs {
		if st := d.status[j.Resource]; st.Running && now.Sub(st.Since) > d.stuckAfter() {
			out = append(out, j.Resource)
		}
	}
	return out
}

// runOnce runs j unless it is already running, then records the result
// (state store first, metrics after) with a context of its own, so that an
// interrupted run is recorded too.
func (d *Daemon) runOnce(ctx context.Context, j Job, trigger Trigger) (Result, bool) {
	st := d.status[j.Resource]
	if !st.busy.CompareAndSwap(false, true) {
		d.opts.Log.Warn("run skipped: the previous run of this resource is still going", "resource", j.Resource)
		return Result{}, false
	}
	defer st.busy.Store(false)
	d.mu.Lock()
	st.Running, st.Since = true, d.opts.Now()
	d.mu.Unlock()
	d.metrics.running(j, true)
	log := d.opts.Log.With("resource", j.Resource, "kind", j.Kind)
	log.Info("run started", "trigger", trigger.Name)

	runCtx, cancel := context.WithTimeout(ctx, d.runTimeout())
	r := d.opts.Runner.Run(runCtx, j, trigger)
	cancel()

	r = record(context.WithoutCancel(ctx), d.opts.Store, r, log)
	d.metrics.Observe(r)
	if err := d.opts.EMF.Write(r); err != nil {
		log.Warn("metrics not written", "error", err)
	}
	d.metrics.running(j, false)
	d.mu.Lock()
	st.Running, st.Last = false, &r
	d.mu.Unlock()
	switch {
	case r.Interrupted:
		log.Warn("run interrupted; the next run resumes it", "error", r.Error, "created", r.Created, "copied", r.Copied)
	case !r.OK:
		log.Error("run failed", "error", r.Error)
	case r.Pending:
		log.Info("protect job in progress; the next run checks on it", "phase", r.JobPhase, "queued", r.Queued,
			"created", r.Created, "age", d.opts.Now().Sub(r.JobStarted).Round(time.Second).String())
	default:
		log.Info("run finished", "duration", r.Ended.Sub(r.Started).Round(time.Millisecond).String(),
			"created", r.Created, "copied", r.Copied, "synced", r.Synced)
	}
	return r, true
}

// record writes r at LastKey; failing to record is logged, not fatal: the
// points themselves are tagged and found again by the next run.
// record counts r's failure streak from the previous run kept in store,
// then keeps r there; it returns r with its streak.
func record(ctx context.Context, store state.Store, r Result, log *slog.Logger) Result {
	if !r.OK {
		r.ConsecutiveFailures = 1
	}
	if store == nil {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !r.OK {
		if data, err := store.Get(ctx, LastKey(r.Resource)); err == nil {
			var prev Result
			if json.Unmarshal(data, &prev) == nil && !prev.OK {
				r.ConsecutiveFailures = max(prev.ConsecutiveFailures, 1) + 1
			}
		}
	}
	data, err := json.Marshal(r)
	if err == nil {
		err = store.Put(ctx, LastKey(r.Resource), data)
	}
	if err != nil {
		log.Error("run not recorded in the state store", "key", LastKey(r.Resource), "error", err)
	}
	return r
}
