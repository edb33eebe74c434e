package points

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// putRun writes a journal as recovery's runner leaves it: the points step
// done with the point ids it chose.
func putRun(t *testing.T, store state.Store, id, kind string, phase runbook.Phase, out runbook.Outputs, meta map[string]string) {
	t.Helper()
	j := runbook.Journal{ID: id, Kind: kind, Stack: "wp", Phase: phase, Start: t0, Meta: meta,
		Steps: []runbook.StepRecord{{ID: "points", Phase: runbook.PhaseDone, Outputs: out}, {ID: "database", Phase: runbook.PhaseRunning}}}
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), runbook.Key(id), data); err != nil {
		t.Fatal(err)
	}
}

func TestPruneInUseKeepsThePointsARecoveryRestoresFrom(t *testing.T) {
	ps := []Point{pt("a", 1), pt("b", 2), pt("c", 3)}
	del := PruneInUse(ps, spec.Keep{Primary: 1, DR: 1}, "dr", "a", []string{"c"}, t0)
	if len(del) != 1 || del[0].ID != "b" {
		t.Fatalf("deleted %+v, want only b", del)
	}
}

// The defect (reliability review H3): `keep: {dr: 1}` and a failover in
// progress from the newest DR copy; the next cycle made a newer copy and
// deleted the one being restored, and the failover failed with
// DBSnapshotNotFound.
func TestRetentionNeverDeletesThePointAFailoverRestoresFrom(t *testing.T) {
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config(`protect:
  databases:
    - { id: db1, every: 2h, keep: { primary: 1, dr: 1 } }
  images:
    - { name: web, instance: { tag: { Role: web } }, every: 2h, keep: { primary: 1, dr: 1 } }
`)
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cycle := func(now time.Time) {
		t.Helper()
		if _, err := Backup(w.ctx, w.env, cfg, BackupOptions{Now: func() time.Time { return now }, Store: store}); err != nil {
			t.Fatalf("backup at %s: %v", now, err)
		}
	}
	cycle(t0)
	db0, ami0 := w.list(cfg, w.D, "db1"), w.list(cfg, w.D, "web")
	if len(db0) != 1 || len(ami0) != 1 {
		t.Fatalf("first cycle: %+v %+v", db0, ami0)
	}
	// A failover chose them and is restoring; a drill named an older id
	// with --point that does not exist (it holds nothing real).
	putRun(t, store, "failover-20260301-090000-abcd", "failover", runbook.PhaseRunning,
		runbook.Outputs{"db_point": db0[0].ID, "ami": ami0[0].ID}, map[string]string{"point": ""})

	cycle(t0.Add(2 * time.Hour))
	for _, c := range []struct {
		res  string
		want string
	}{{"db1", db0[0].ID}, {"web", ami0[0].ID}} {
		dr := w.list(cfg, w.D, c.res)
		if len(dr) != 2 || !containsID(dr, c.want) {
			t.Fatalf("%s: the point in use %s must survive next to the new copy, DR has %v", c.res, c.want, ids(dr))
		}
	}

	// Once the failover is done, the point is an ordinary old point again.
	putRun(t, store, "failover-20260301-090000-abcd", "failover", runbook.PhaseDone,
		runbook.Outputs{"db_point": db0[0].ID, "ami": ami0[0].ID}, nil)
	cycle(t0.Add(4 * time.Hour))
	for _, c := range []struct{ res, gone string }{{"db1", db0[0].ID}, {"web", ami0[0].ID}} {
		dr := w.list(cfg, w.D, c.res)
		if len(dr) != 1 || containsID(dr, c.gone) {
			t.Fatalf("%s: after the failover, keep dr:1 leaves the newest copy only, DR has %v", c.res, ids(dr))
		}
	}
}

func TestInUseReadsUnfinishedRunsOnly(t *testing.T) {
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	putRun(t, store, "failover-1", "failover", runbook.PhaseFailed, runbook.Outputs{"db_point": "snap-failed"}, nil)
	putRun(t, store, "drill-1", "drill", runbook.PhaseRunning, runbook.Outputs{"ami": "ami-drill"}, map[string]string{"point": "snap-chosen"})
	putRun(t, store, "drill-2", "drill", runbook.PhaseDone, runbook.Outputs{"db_point": "snap-done"}, nil)
	putRun(t, store, "failover-2", "failover", runbook.PhaseAbandoned, runbook.Outputs{"db_point": "snap-abandoned"}, nil)
	got, err := InUse(t.Context(), store, "wp")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"snap-failed": true, "ami-drill": true, "snap-chosen": true}
	if len(got) != len(want) {
		t.Fatalf("in use %v, want %v", got, want)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("in use %v, want %v", got, want)
		}
	}
}

func containsID(ps []Point, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}
