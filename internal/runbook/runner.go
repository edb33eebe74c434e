package runbook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/state"
)

// ErrStopped is what a step returns when it noticed RunContext.Stopping
// and left at a safe point; the step is then recorded as cancelled.
var ErrStopped = errors.New("stopped at a safe point")

// Runner executes graphs and journals them in Store. It takes no lock:
// the verb holds the stack's lock around Run.
type Runner struct {
	Store state.Store
	// Parallelism bounds how many steps run at once (default 8).
	Parallelism int
	// Events receives progress, from one goroutine at a time; nil = none.
	Events func(Event)
	Log    *slog.Logger
	// Heartbeat is how often a running step is reported as still running
	// (default 10s, as Terraform's "Still creating...").
	Heartbeat time.Duration
	// Grace is how long running steps keep their context after
	// cancellation to reach a safe point (default 10s). They can see the
	// stop at once through RunContext.Stopping.
	Grace time.Duration
}

// Event is one progress report. Step is empty for the run itself.
type Event struct {
	Time  time.Time
	RunID string
	Step  string
	Phase Phase
	Error string
	// Elapsed is the time since the step (or run) started.
	Elapsed time.Duration
	Attempt int
	// Heartbeat marks a "still running" report; nothing changed.
	Heartbeat bool
	// Final marks the run's last event.
	Final bool
	Note  string
}

// RunContext is what a step sees of its run.
type RunContext struct {
	runID, step string
	attempt     int
	log         *slog.Logger
	meta        map[string]string
	out         *outputs
	stopping    <-chan struct{}
}

// outputs are the finished steps' outputs, shared by the run's steps.
type outputs struct {
	mu sync.RWMutex
	m  map[string]Outputs
}

func (o *outputs) set(step string, out Outputs) {
	o.mu.Lock()
	o.m[step] = maps.Clone(out)
	o.mu.Unlock()
}

// Output returns output key of a finished step ("" if absent). Outputs are
// kept in the journal, so a resumed run sees those of steps done before.
func (rc *RunContext) Output(stepID, key string) string {
	rc.out.mu.RLock()
	defer rc.out.mu.RUnlock()
	return rc.out.m[stepID][key]
}

// Outputs returns a copy of all outputs of a finished step.
func (rc *RunContext) Outputs(stepID string) Outputs {
	rc.out.mu.RLock()
	defer rc.out.mu.RUnlock()
	return maps.Clone(rc.out.m[stepID])
}

// RunID is the run's id: steps put it in resource names and tags.
func (rc *RunContext) RunID() string { return rc.runID }

// Step is the id of the step being run.
func (rc *RunContext) Step() string { return rc.step }

// Attempt is 1 on a step's first start; more means an earlier attempt
// crashed, failed or was cancelled, and its resource may already exist.
func (rc *RunContext) Attempt() int { return rc.attempt }

// Meta returns a value the run was started with (e.g. the chosen point).
func (rc *RunContext) Meta(key string) string { return rc.meta[key] }

// Log is the run's logger with run and step attributes.
func (rc *RunContext) Log() *slog.Logger { return rc.log }

// Stopping is closed when the run is cancelled: a long step should return
// ErrStopped at its next safe point. Its context is cancelled only after
// the runner's grace period.
func (rc *RunContext) Stopping() <-chan struct{} { return rc.stopping }

// StepError is one failed step.
type StepError struct {
	Step string
	Err  error
}

// RunError is returned by Run when the run did not finish: it names each
// failed step and why, and what was left undone.
type RunError struct {
	RunID     string
	Phase     Phase // failed or cancelled
	Failed    []StepError
	Cancelled []string // running steps stopped by cancellation
	Skipped   []string // not run because a step they need failed
	Pending   []string // not started
	Journal   error    // the journal could not be written
}

func (e *RunError) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("step %s failed: %v", f.Step, f.Err))
	}
	if e.Journal != nil {
		parts = append(parts, fmt.Sprintf("the journal could not be written: %v", e.Journal))
	}
	if e.Phase == PhaseCancelled {
		parts = append(parts, "cancelled")
	}
	if len(e.Cancelled) > 0 {
		parts = append(parts, "interrupted: "+strings.Join(e.Cancelled, ", "))
	}
	if len(e.Skipped) > 0 {
		parts = append(parts, "skipped (a step they need failed): "+strings.Join(e.Skipped, ", "))
	}
	if len(e.Pending) > 0 {
		parts = append(parts, "not started: "+strings.Join(e.Pending, ", "))
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes the steps' errors (and context.Canceled when cancelled).
func (e *RunError) Unwrap() []error {
	var errs []error
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	if e.Journal != nil {
		errs = append(errs, e.Journal)
	}
	if e.Phase == PhaseCancelled {
		errs = append(errs, context.Canceled)
	}
	return errs
}

// saveTimeout bounds one journal write, which must not hang a run whose
// context is already cancelled.
const saveTimeout = 30 * time.Second

// Run executes g for (stack, kind). If an unfinished journal of that kind
// exists it is resumed: done steps are skipped and their outputs reused,
// every other step runs (again); steps must find their resource by
// deterministic name or tag before they create one. The journal keeps the
// meta the run first started with; new keys are added.
//
// Steps start as soon as what they need is done, up to Parallelism at once.
// A failed step skips its dependants and lets independent branches finish.
// Cancelling ctx starts no more steps, lets running ones reach a safe point,
// and records the run as cancelled. The journal is returned whenever one
// was written, with *RunError when the run did not finish.
func (r *Runner) Run(ctx context.Context, g *Graph, stack, kind string, meta map[string]string) (*Journal, error) {
	if r.Store == nil {
		return nil, errors.New("runbook: no state store")
	}
	for _, s := range g.steps {
		if s.Run == nil {
			return nil, fmt.Errorf("runbook: step %s has nothing to run", s.ID)
		}
	}
	j, err := Unfinished(ctx, r.Store, stack, kind)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: look for a run to resume: %w", kind, stack, err)
	}
	now := time.Now().UTC()
	note := "started"
	if j == nil {
		j = &Journal{ID: newRunID(kind, now), Kind: kind, Stack: stack, Start: now, Meta: maps.Clone(meta)}
	} else {
		j.Resumes++
		if j.Meta == nil {
			j.Meta = map[string]string{}
		}
		for k, v := range meta {
			if _, ok := j.Meta[k]; !ok {
				j.Meta[k] = v
			}
		}
	}
	j.Steps = reconcile(g, j.Steps)
	if j.Resumes > 0 {
		note = fmt.Sprintf("resumed from the journal (%d of %d steps already done)", j.Count(PhaseDone), len(j.Steps))
	}
	j.Phase, j.End, j.Error = PhaseRunning, time.Time{}, ""
	e := &execution{r: r, g: g, j: j, ctx: ctx, log: r.Log}
	if e.log == nil {
		e.log = discard
	}
	e.log = e.log.With("run", j.ID)
	if err := e.save(); err != nil {
		return nil, err // nothing has run
	}
	e.emit(Event{Phase: PhaseRunning, Note: note})
	return e.run()
}

// reconcile lays the graph over an earlier journal: done steps keep their
// record and outputs; everything else is pending again, keeping its count
// of attempts. Steps no longer in the graph are dropped.
func reconcile(g *Graph, old []StepRecord) []StepRecord {
	prev := make(map[string]StepRecord, len(old))
	for _, s := range old {
		prev[s.ID] = s
	}
	recs := make([]StepRecord, len(g.steps))
	for i, s := range g.steps {
		rec := StepRecord{ID: s.ID, Needs: s.Needs, Phase: PhasePending}
		if p, ok := prev[s.ID]; ok {
			if p.Phase == PhaseDone {
				rec = p
				rec.Needs = s.Needs
			}
			rec.Attempts = p.Attempts
		}
		recs[i] = rec
	}
	return recs
}

// execution is one call of Run. Only the scheduling goroutine touches the
// journal; steps report back through results.
type execution struct {
	r   *Runner
	g   *Graph
	j   *Journal
	ctx context.Context
	log *slog.Logger

	journalErr error
}

type result struct {
	idx int
	out Outputs
	err error
	end time.Time
}

func (e *execution) emit(ev Event) {
	ev.RunID = e.j.ID
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if e.r.Events != nil {
		e.r.Events(ev)
	}
}

func (e *execution) stepEvent(i int, note string) {
	s := e.j.Steps[i]
	ev := Event{Step: s.ID, Phase: s.Phase, Error: s.Error, Attempt: s.Attempts, Note: note}
	if !s.Start.IsZero() {
		ev.Elapsed = s.Duration(time.Now())
	}
	e.emit(ev)
	e.log.Debug("step "+string(s.Phase), "step", s.ID, "attempt", s.Attempts, "elapsed", ev.Elapsed, "err", s.Error)
}

// save writes the journal. It must work after cancellation too, so it uses
// a detached context with its own bound.
func (e *execution) save() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), saveTimeout)
	defer cancel()
	err := save(ctx, e.r.Store, e.j)
	if err != nil {
		e.log.Error("journal not written", "err", err)
		if e.journalErr == nil {
			e.journalErr = err
		}
	}
	return err
}

func (e *execution) run() (*Journal, error) {
	j, steps := e.j, e.g.steps
	par := e.r.Parallelism
	if par <= 0 {
		par = 8
	}
	heartbeat := e.r.Heartbeat
	if heartbeat <= 0 {
		heartbeat = 10 * time.Second
	}
	grace := e.r.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}

	dependants := make([][]int, len(steps))
	unmet := make([]int, len(steps))
	out := &outputs{m: map[string]Outputs{}}
	for i, s := range steps {
		for _, n := range s.Needs {
			k := e.g.index[n]
			dependants[k] = append(dependants[k], i)
			if j.Steps[k].Phase != PhaseDone {
				unmet[i]++
			}
		}
		if j.Steps[i].Phase == PhaseDone {
			out.set(s.ID, j.Steps[i].Outputs)
			e.stepEvent(i, "done in an earlier attempt: outputs reused")
		} else {
			e.stepEvent(i, "")
		}
	}

	// Steps keep a context that outlives ctx by the grace period, so an
	// AWS call in flight completes instead of leaving its outcome unknown.
	stepCtx, hardCancel := context.WithCancel(context.WithoutCancel(e.ctx))
	defer hardCancel()
	stopping := make(chan struct{})
	stopped := false
	done := e.ctx.Done()
	var graceTimer <-chan time.Time
	results := make(chan result, len(steps))
	ticker := time.NewTicker(heartbeat)
	defer ticker.Stop()
	running := map[int]bool{}

	ready := func() int {
		for i := range steps {
			if j.Steps[i].Phase == PhasePending && unmet[i] == 0 {
				return i
			}
		}
		return -1
	}
	// changed holds steps whose new phase is not yet written; each pass
	// writes the journal once for the steps that ended and the steps their
	// ending lets start, so a hop along the critical path costs one write.
	var changed []int
	for {
		var starting []int
		for !stopped && e.journalErr == nil && len(running) < par {
			i := ready()
			if i < 0 {
				break
			}
			rec := &j.Steps[i]
			rec.Phase, rec.Start, rec.End, rec.Error, rec.Outputs = PhaseRunning, time.Now().UTC(), time.Time{}, "", nil
			rec.Attempts++
			running[i] = true
			starting = append(starting, i)
		}
		if len(running) == 0 {
			break // finish writes the last changes with the run's end
		}
		// Written before any starting step can touch a resource: a crash
		// from here on finds it "running", and the re-run looks for what it
		// made. Should the write fail, these steps still run (steps are
		// idempotent) but no further ones start.
		if len(changed)+len(starting) > 0 {
			_ = e.save()
		}
		for _, i := range changed {
			e.stepEvent(i, "")
		}
		changed = changed[:0]
		for _, i := range starting {
			rec := &j.Steps[i]
			note := ""
			if rec.Attempts > 1 {
				note = fmt.Sprintf("attempt %d: finding what earlier attempts made", rec.Attempts)
			}
			e.stepEvent(i, note)
			rc := &RunContext{runID: j.ID, step: rec.ID, attempt: rec.Attempts, meta: j.Meta, out: out, stopping: stopping,
				log: e.log.With("step", rec.ID)}
			go func(i int) {
				o, err := runStep(stepCtx, steps[i], rc)
				results <- result{idx: i, out: o, err: err, end: time.Now().UTC()}
			}(i)
		}
		select {
		case res := <-results:
			// Take every result already waiting: steps ending together
			// cost one write.
			batch := []result{res}
		drain:
			for {
				select {
				case r := <-results:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			for _, res := range batch {
				delete(running, res.idx)
				rec := &j.Steps[res.idx]
				rec.End = res.end
				switch {
				case res.err == nil:
					rec.Phase, rec.Outputs = PhaseDone, maps.Clone(res.out)
					out.set(rec.ID, res.out)
					for _, d := range dependants[res.idx] {
						unmet[d]--
					}
				case stopped && (errors.Is(res.err, ErrStopped) || errors.Is(res.err, context.Canceled) || errors.Is(res.err, context.DeadlineExceeded)):
					rec.Phase, rec.Error = PhaseCancelled, res.err.Error()
				default:
					rec.Phase, rec.Error = PhaseFailed, res.err.Error()
				}
				changed = append(changed, res.idx)
				if rec.Phase == PhaseFailed {
					changed = append(changed, e.skipDependants(res.idx, dependants)...)
				}
			}
		case <-done:
			done = nil
			stopped = true
			close(stopping)
			graceTimer = time.After(grace)
			e.log.Warn("cancelled: starting no more steps; running steps are stopping at a safe point", "running", len(running))
			e.emit(Event{Phase: PhaseCancelled, Elapsed: time.Since(j.Start),
				Note: fmt.Sprintf("stopping: waiting up to %s for %d running step(s) to reach a safe point", grace, len(running))})
		case <-graceTimer:
			graceTimer = nil
			hardCancel()
		case <-ticker.C:
			for i := range steps {
				if running[i] {
					s := j.Steps[i]
					e.emit(Event{Step: s.ID, Phase: PhaseRunning, Elapsed: s.Duration(time.Now()), Attempt: s.Attempts, Heartbeat: true})
				}
			}
		}
	}
	return e.finish(stopped, changed)
}

// skipDependants marks every step downstream of a failed one as skipped
// and returns them.
func (e *execution) skipDependants(failed int, dependants [][]int) (skipped []int) {
	queue := append([]int(nil), dependants[failed]...)
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		rec := &e.j.Steps[i]
		if rec.Phase != PhasePending {
			continue
		}
		rec.Phase, rec.Error = PhaseSkipped, "not run: step "+e.j.Steps[failed].ID+" failed"
		skipped = append(skipped, i)
		queue = append(queue, dependants[i]...)
	}
	return skipped
}

// finish records the run's end with the steps' last changes, then reports
// those changes and the end.
func (e *execution) finish(stopped bool, changed []int) (*Journal, error) {
	j := e.j
	re := &RunError{RunID: j.ID, Journal: e.journalErr}
	for _, s := range j.Steps {
		switch s.Phase {
		case PhaseFailed:
			re.Failed = append(re.Failed, StepError{Step: s.ID, Err: errors.New(s.Error)})
		case PhaseCancelled:
			re.Cancelled = append(re.Cancelled, s.ID)
		case PhaseSkipped:
			re.Skipped = append(re.Skipped, s.ID)
		case PhasePending:
			re.Pending = append(re.Pending, s.ID)
		}
	}
	switch {
	case stopped:
		j.Phase = PhaseCancelled
	case len(re.Failed) > 0 || e.journalErr != nil || len(re.Skipped)+len(re.Pending) > 0:
		j.Phase = PhaseFailed
	default:
		j.Phase = PhaseDone
	}
	re.Phase = j.Phase
	j.End = time.Now().UTC()
	if j.Phase != PhaseDone {
		j.Error = re.Error()
	}
	e.journalErr = nil
	if err := e.save(); err != nil && re.Journal == nil {
		re.Journal = err
		if j.Phase == PhaseDone {
			re.Phase = PhaseFailed
		}
	}
	for _, i := range changed {
		e.stepEvent(i, "")
	}
	e.emit(Event{Phase: j.Phase, Error: j.Error, Elapsed: j.End.Sub(j.Start), Final: true})
	if j.Phase == PhaseDone && re.Journal == nil {
		return j, nil
	}
	return j, re
}

// runStep turns a step's panic into its failure: one buggy step must not
// take the run, and its journal, down with it.
func runStep(ctx context.Context, s Step, rc *RunContext) (out Outputs, err error) {
	defer func() {
		if p := recover(); p != nil {
			rc.log.Error("step panicked", "panic", p, "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("step %s panicked: %v", s.ID, p)
		}
	}()
	return s.Run(ctx, rc)
}
