package operation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

func TestSettle(t *testing.T) {
	ok := Result{Phase: PhaseCompleted}
	bad := Result{Phase: PhaseFailed}
	for _, c := range []struct {
		name    string
		results []Result
		err     error
		want    Phase
	}{
		{"all done", []Result{ok, ok}, nil, PhaseCompleted},
		{"nothing to do", nil, nil, PhaseCompleted},
		{"one of two failed", []Result{ok, bad}, errors.New("x"), PhasePartiallyFailed},
		{"all failed", []Result{bad, bad}, errors.New("x"), PhaseFailed},
		{"failed before any resource", nil, errors.New("x"), PhaseFailed},
		{"error beside successes", []Result{ok}, errors.New("print"), PhasePartiallyFailed},
	} {
		r := &Record{Phase: PhaseInProgress, Results: c.results}
		r.settle(c.err)
		if r.Phase != c.want {
			t.Errorf("%s: %s, want %s", c.name, r.Phase, c.want)
		}
	}
	// An operation that judged itself keeps its phase.
	r := &Record{Phase: PhaseFailed, Results: []Result{ok}}
	if r.settle(nil); r.Phase != PhaseFailed {
		t.Errorf("self-judged phase overwritten: %s", r.Phase)
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		kind, filter string
		want         bool
	}{
		{"replicate-sync", "replicate", true}, {"teardown-drill", "teardown", true}, {"drill", "drill", true},
		{"drill", "", true}, {"failback", "failover", false}, {"teardown-drill", "drill", false},
	} {
		if got := Matches(c.kind, c.filter); got != c.want {
			t.Errorf("Matches(%q, %q) = %v", c.kind, c.filter, got)
		}
	}
}

// TestRunRecordsAndLocks: a locked kind runs under the stack's lock and
// is recorded InProgress while it runs, then with its settled phase; a
// second locked operation meanwhile gets a LockError and no record.
func TestRunRecordsAndLocks(t *testing.T) {
	ctx := context.Background()
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := Deps{Store: store, Stack: "wordpress"}
	rec, err := Run(ctx, d, KindPrepare, func(ctx context.Context, rec *Record) error {
		live, err := Load(ctx, store, rec.ID)
		if err != nil || live.Phase != PhaseInProgress {
			t.Errorf("not recorded as in progress while running: %v %+v", err, live)
		}
		if h, _ := store.Holder(ctx, "wordpress"); h == nil || h.Operation != "prepare" {
			t.Errorf("prepare runs without the lock: %+v", h)
		}
		inner, err := Run(ctx, d, KindFailover, func(context.Context, *Record) error {
			t.Error("ran under a held lock")
			return nil
		})
		if !IsLock(err) || inner != nil {
			t.Errorf("second operation: %v %+v", err, inner)
		}
		rec.Results = append(rec.Results, Result{Resource: "vpc", Phase: PhaseCompleted}, Result{Resource: "missing subnet", Phase: PhaseFailed})
		return errors.New("1 missing")
	})
	if err == nil || rec == nil {
		t.Fatalf("%v %+v", err, rec)
	}
	got, err := Load(ctx, store, rec.ID)
	if err != nil || got.Phase != PhasePartiallyFailed || got.End.IsZero() || len(got.Results) != 2 || len(got.Errors) != 1 {
		t.Fatalf("record: %v %+v", err, got)
	}
	if h, _ := store.Holder(ctx, "wordpress"); h != nil {
		t.Fatalf("lock kept: %+v", h)
	}
	all, err := List(ctx, store, "wordpress")
	if err != nil || len(all) != 1 || all[0].ID != rec.ID {
		t.Fatalf("list: %v %+v", err, all)
	}
	// An unlocked kind runs, unrecorded, without a store.
	if rec, err := Run(ctx, Deps{Stack: "wordpress"}, KindBackup, func(context.Context, *Record) error { return nil }); err != nil || rec.Phase != PhaseCompleted {
		t.Fatalf("backup without a store: %v %+v", err, rec)
	}
}

// TestResumeClosesTheInterruptedRecord: a graph run whose process died
// left its record InProgress; the operation that resumes its journal marks
// that record Failed, naming itself, so `runs` does not show it running.
func TestResumeClosesTheInterruptedRecord(t *testing.T) {
	ctx := context.Background()
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := Deps{Store: store, Stack: "wordpress"}
	step := func(context.Context, *runbook.RunContext) (runbook.Outputs, error) { return nil, errors.New("boom") }
	g, _ := runbook.New(runbook.Step{ID: "db", Run: step})
	first, _ := Run(ctx, d, KindFailover, func(ctx context.Context, rec *Record) error {
		_, err := runGraph(ctx, d, rec, g, "failover", nil, GraphOptions{})
		return err
	})
	// The crash: the record is left as it was while running.
	first.Phase, first.End = PhaseInProgress, time.Time{}
	if err := Save(ctx, store, first); err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context, *runbook.RunContext) (runbook.Outputs, error) { return nil, nil }
	g2, _ := runbook.New(runbook.Step{ID: "db", Run: ok})
	second, err := Run(ctx, d, KindFailover, func(ctx context.Context, rec *Record) error {
		_, err := runGraph(ctx, d, rec, g2, "failover", nil, GraphOptions{})
		return err
	})
	if err != nil || second.Phase != PhaseCompleted || len(second.Journals) != 1 || second.Journals[0] != first.Journals[0] {
		t.Fatalf("resume: %v %+v (first %+v)", err, second, first)
	}
	old, err := Load(ctx, store, first.ID)
	if err != nil || old.Phase != PhaseFailed || !strings.Contains(strings.Join(old.Errors, ";"), "resumed by "+second.ID) {
		t.Fatalf("interrupted record: %v %+v", err, old)
	}
}
