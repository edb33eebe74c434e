package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// lockFixture is a config with a local state store beside it.
func lockFixture(t *testing.T) (cfgPath string, cfg *spec.Config, store state.Store) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(cfgPath, []byte("stack: wordpress\nprimary: { region: cn-northwest-1 }\ndr: { region: cn-north-1 }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err = state.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfgPath, cfg, store
}

func TestRunsVerb(t *testing.T) {
	cfgPath, _, store := lockFixture(t)
	ctx := context.Background()
	if code, out, _ := run(t, "runs", "--config", cfgPath); code != 0 || !strings.Contains(out, "no recorded runs for wordpress") {
		t.Fatalf("empty: %d %s", code, out)
	}
	ok := func(context.Context, *runbook.RunContext) (runbook.Outputs, error) {
		return runbook.Outputs{"db_host": "db.example"}, nil
	}
	bad := func(context.Context, *runbook.RunContext) (runbook.Outputs, error) {
		return nil, errors.New("InsufficientDBInstanceCapacity")
	}
	g, _ := runbook.New(runbook.Step{ID: "network", Run: ok}, runbook.Step{ID: "db", Needs: []string{"network"}, Run: ok})
	done, err := (&runbook.Runner{Store: store}).Run(ctx, g, "wordpress", "drill", nil)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := runbook.New(runbook.Step{ID: "network", Run: ok}, runbook.Step{ID: "db", Needs: []string{"network"}, Run: bad})
	failed, _ := (&runbook.Runner{Store: store}).Run(ctx, g2, "wordpress", "failover", map[string]string{"point": "snap-1"})

	code, out, _ := run(t, "runs", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "RUN") || strings.Index(out, failed.ID) > strings.Index(out, done.ID) {
		t.Fatalf("list (newest first): %d\n%s", code, out)
	}
	if !strings.Contains(out, "2/2 done") || !strings.Contains(out, "1/2 done, 1 failed") {
		t.Fatalf("list counts:\n%s", out)
	}
	code, out, _ = run(t, "runs", "--config", cfgPath, "-o", "json", "--kind", "drill")
	var res runsResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Runs) != 1 || res.Runs[0].ID != done.ID || res.Runs[0].Phase != operation.PhaseCompleted {
		t.Fatalf("json list: %d %s", code, out)
	}

	code, out, _ = run(t, "runs", "--config", cfgPath, failed.ID, "--outputs")
	for _, want := range []string{"failover of wordpress: failed", "point=snap-1", "STEP", "db: InsufficientDBInstanceCapacity", "network.db_host = db.example"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("detail lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "runs", "--config", cfgPath, failed.ID, "-o", "json")
	var d struct {
		ID        string               `json:"id"`
		Phase     runbook.Phase        `json:"phase"`
		Steps     []runbook.StepRecord `json:"steps"`
		StepTimes []stepTimeDetail     `json:"step_seconds"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.ID != failed.ID || len(d.Steps) != 2 || len(d.StepTimes) != 2 || d.Steps[1].Error == "" {
		t.Fatalf("json detail: %d %s", code, out)
	}
	if code, _, errOut := run(t, "runs", "--config", cfgPath, "drill-nope"); code != ExitFailed || !strings.Contains(errOut, "no run drill-nope") {
		t.Fatalf("unknown run: %d %s", code, errOut)
	}
}

// TestRunsShowsInterruptedRun: a journal left "running" by a dead process,
// with no lock held, is reported as interrupted.
func TestRunsShowsInterruptedRun(t *testing.T) {
	cfgPath, _, store := lockFixture(t)
	j := &runbook.Journal{ID: "drill-20260101-000000-abcd", Kind: "drill", Stack: "wordpress", Phase: runbook.PhaseRunning,
		Steps: []runbook.StepRecord{{ID: "db", Phase: runbook.PhaseRunning}}}
	data, _ := json.Marshal(j)
	if err := store.Put(context.Background(), runbook.Key(j.ID), data); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "runs", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "InProgress (interrupted)") {
		t.Fatalf("%d\n%s", code, out)
	}
}

func TestUnlockVerb(t *testing.T) {
	cfgPath, _, store := lockFixture(t)
	ctx := context.Background()
	if code, _, errOut := run(t, "unlock", "--config", cfgPath, "some-id"); code != ExitFailed || !strings.Contains(errOut, "no lock is held") {
		t.Fatalf("nothing locked: %d %s", code, errOut)
	}
	if _, err := store.Lock(ctx, "wordpress", "failover"); err != nil {
		t.Fatal(err)
	}
	h, _ := store.Holder(ctx, "wordpress")
	code, out, _ := run(t, "runs", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "locked by failover (lock "+h.ID+")") {
		t.Fatalf("runs shows the lock: %s", out)
	}
	if code, _, errOut := run(t, "unlock", "--config", cfgPath, "wrong-id"); code != ExitUsage || !strings.Contains(errOut, h.ID) {
		t.Fatalf("wrong id: %d %s", code, errOut)
	}
	code, out, _ = run(t, "unlock", "--config", cfgPath, h.ID, "--dry-run")
	if code != 0 || !strings.Contains(out, "would release lock "+h.ID) {
		t.Fatalf("dry run: %d %s", code, out)
	}
	if got, _ := store.Holder(ctx, "wordpress"); got == nil {
		t.Fatal("--dry-run released the lock")
	}
	code, out, _ = run(t, "unlock", "--config", cfgPath, h.ID, "-o", "json")
	var res unlockResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Released || res.Holder.Operation != "failover" {
		t.Fatalf("unlock: %d %s", code, out)
	}
	if got, _ := store.Holder(ctx, "wordpress"); got != nil {
		t.Fatalf("still locked by %+v", got)
	}
}

// withLock is how a verb holds the lock: operation.WithLock, with the
// CLI's exit codes.
func (a *App) withLock(ctx context.Context, cfg *spec.Config, store state.Store, op, forceUnlock string, fn func() error) error {
	return opExit(operation.WithLock(ctx, store, cfg.Stack, op, forceUnlock, a.Log, fn))
}

// TestWithLock: a held lock exits 3 naming its holder, Ctrl-C still
// releases the lock, and --force-unlock takes over only the named lock.
func TestWithLock(t *testing.T) {
	_, cfg, store := lockFixture(t)
	ctx := context.Background()
	var logs bytes.Buffer
	app := &App{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ran := false
	if err := app.withLock(ctx, cfg, store, "drill", "", func() error {
		ran = true
		// Inside, the stack is locked against a second operation.
		err := app.withLock(ctx, cfg, store, "failover", "", func() error { t.Error("ran under a held lock"); return nil })
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitLockHeld || !strings.Contains(err.Error(), "locked by drill") {
			t.Errorf("second operation: %v", err)
		}
		return nil
	}); err != nil || !ran {
		t.Fatalf("%v %v", err, ran)
	}
	if h, _ := store.Holder(ctx, "wordpress"); h != nil {
		t.Fatalf("lock not released: %+v", h)
	}
	// A cancelled context still releases the lock.
	cctx, cancel := context.WithCancel(ctx)
	_ = app.withLock(cctx, cfg, store, "drill", "", func() error { cancel(); return context.Canceled })
	if h, _ := store.Holder(ctx, "wordpress"); h != nil {
		t.Fatalf("lock kept after Ctrl-C: %+v", h)
	}
	// A lock left by a crash is taken over with --force-unlock.
	if _, err := store.Lock(ctx, "wordpress", "failover"); err != nil {
		t.Fatal(err)
	}
	stale, _ := store.Holder(ctx, "wordpress")
	err := app.withLock(ctx, cfg, store, "failover", "not-it", func() error { return nil })
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitLockHeld {
		t.Fatalf("force-unlock with the wrong id: %v", err)
	}
	ran = false
	if err := app.withLock(ctx, cfg, store, "failover", stale.ID, func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("force-unlock: %v", err)
	}
	if !strings.Contains(logs.String(), "took over the stack's lock") {
		t.Fatalf("force-unlock not logged: %s", logs.String())
	}
}
