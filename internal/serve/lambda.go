package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pilotlight/pilotlight/internal/state"
)

// Lambda actions, as EventBridge Scheduler sends them in the target input.
const (
	// ActionBackup runs the protect cycle of databases and images.
	ActionBackup = "backup"
	// ActionVerify verifies buckets and back-fills what is missing.
	ActionVerify = "verify"
)

// Event is the input of one invocation, e.g.
// {"action":"backup","only":["wordpress-db"]} or {"action":"verify"}.
type Event struct {
	Action string   `json:"action"`
	Only   []string `json:"only,omitempty"`
	// Tick is the schedule's time (EventBridge Scheduler's
	// <aws.scheduler.scheduled-time>), the same on every retry. Without
	// it the invocation's request id stands in: Lambda keeps it across
	// the retries of an asynchronous invocation.
	Tick string `json:"tick,omitempty"`
}

// Response is what an invocation returns (and Lambda logs).
type Response struct {
	Action  string   `json:"action"`
	OK      bool     `json:"ok"`
	Results []Result `json:"results"`
}

// Lambda handles scheduler events with the same Runner as the daemon.
type Lambda struct {
	Jobs   []Job
	Runner Runner
	Store  state.Store
	Log    *slog.Logger
	// Metrics, when set, gets one embedded-metric-format line per run:
	// Lambda's stdout goes to CloudWatch Logs, which makes them metrics.
	Metrics *EMF
	// Parallelism bounds resources run at once (default 4).
	Parallelism int
	// Reserve is kept back from the invocation's deadline so that an
	// interrupted run is still recorded before Lambda stops the process
	// (default 20s).
	Reserve time.Duration
}

// Handle runs one event: one step of each resource's protect job, or one
// verify of each bucket. A copy still running is pending, not a failure:
// the invocation returns at once and the next scheduled one advances it.
// Its error is non-nil only when a resource's step failed, so that Lambda
// counts the invocation as failed and its asynchronous retry, with the
// same tick, joins the job it started (every run is idempotent).
func (l *Lambda) Handle(ctx context.Context, ev Event) (Response, error) {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	resp := Response{Action: ev.Action, Results: []Result{}}
	jobs, err := l.pick(ev)
	if err != nil {
		return resp, err
	}
	tick := ev.Tick
	if tick == "" {
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			tick = "lambda/" + lc.AwsRequestID
		}
	}
	reserve := l.Reserve
	if reserve <= 0 {
		reserve = 20 * time.Second
	}
	runCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(context.WithoutCancel(ctx), dl.Add(-reserve))
		defer cancel()
	}
	par := l.Parallelism
	if par <= 0 {
		par = 4
	}
	resp.Results = make([]Result, len(jobs))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := l.Runner.Run(runCtx, j, Trigger{Name: "lambda", Tick: tick})
			r = record(context.WithoutCancel(ctx), l.Store, r, log.With("resource", j.Resource))
			if err := l.Metrics.Write(r); err != nil {
				log.Warn("metrics not written", "resource", j.Resource, "error", err)
			}
			resp.Results[i] = r
		}()
	}
	wg.Wait()
	var failed []string
	for _, r := range resp.Results {
		if !r.OK {
			failed = append(failed, r.Resource+": "+r.Error)
		}
	}
	resp.OK = len(failed) == 0
	pending := 0
	for _, r := range resp.Results {
		if r.Pending {
			pending++
		}
	}
	log.Info("invocation done", "action", ev.Action, "resources", len(jobs), "failed", len(failed), "pending", pending)
	if len(failed) > 0 {
		return resp, fmt.Errorf("%s failed for %d of %d resources: %s", ev.Action, len(failed), len(jobs), strings.Join(failed, "; "))
	}
	return resp, nil
}

// pick picks the jobs of an event: backup takes databases and images,
// verify takes buckets; only narrows them and must name that kind.
func (l *Lambda) pick(ev Event) ([]Job, error) {
	var want func(Job) bool
	switch ev.Action {
	case ActionBackup:
		want = func(j Job) bool { return j.Kind != KindBucket }
	case ActionVerify:
		want = func(j Job) bool { return j.Kind == KindBucket }
	default:
		return nil, fmt.Errorf("unknown action %q: want %q or %q", ev.Action, ActionBackup, ActionVerify)
	}
	var pool []Job
	for _, j := range l.Jobs {
		if want(j) {
			pool = append(pool, j)
		}
	}
	jobs, err := Select(pool, ev.Only)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ev.Action, err)
	}
	if len(jobs) == 0 {
		return nil, errors.New(ev.Action + ": the config has nothing to " + ev.Action)
	}
	return jobs, nil
}
