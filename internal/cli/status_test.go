package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestOperatorAnswersDuringOutage: a protected stack, set up as a new user
// would, then its primary region killed in the fault proxy. points and
// status answer from the DR region and say the primary does not answer;
// before any drill status is ready with a warning; after a failover status
// says the stack serves from DR, until a failback.
func TestOperatorAnswersDuringOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	motoOpts, env := primaryWithDB(ctx, t)
	proxy := faultProxy(t, motoOpts.Endpoint)
	envOpts := testenv.Options(proxy.URL)
	src, dst := mediaBucket(ctx, t, env)
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - { id: wordpress-db, keep: { primary: 2, dr: 2 }, target_rpo: 4h }
  buckets:
    - { name: media, source: `+src+`, replica: `+dst+`, create_replica: true }
`)
	run := cliRunner(ctx, envOpts, cfgPath)
	for _, args := range [][]string{{"backup"}, {"prepare"}, {"replicate", "setup"}, {"replicate", "sync"}, {"replicate", "verify"}} {
		if code, out, errOut := run(args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}

	// Before any drill: ready, with a warning that nothing has proven the plan.
	code, out, errOut := run("status")
	if code != 0 || !strings.Contains(out, "wordpress: READY for failover to cn-north-1") ||
		!strings.Contains(out, "warn drill") || !strings.Contains(out, "no drill has proven the plan") {
		t.Fatalf("status before a drill: exit %d\n%s\n%s", code, out, errOut)
	}

	proxy.KillRegion("cn-northwest-1")

	code, out, errOut = run("points")
	if code != 0 || !strings.Contains(out, "the primary region cn-northwest-1 cannot be read") ||
		!strings.Contains(out, "wordpress-db (rds-instance): RPO ") || strings.Contains(out, "RPO unknown") {
		t.Fatalf("points with the primary dead: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run("points", "-o", "json")
	var pr struct {
		PrimaryUnreachable bool `json:"primary_unreachable"`
		Resources          []struct {
			NewestDR string `json:"newest_dr"`
		} `json:"resources"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &pr) != nil || !pr.PrimaryUnreachable || len(pr.Resources) != 1 || pr.Resources[0].NewestDR == "" {
		t.Fatalf("points -o json with the primary dead: exit %d\n%s", code, out)
	}
	// Asked for explicitly, the primary's failure is still an error.
	if code, _, _ := run("points", "--region", "both"); code != ExitFailed {
		t.Errorf("points --region both with the primary dead: exit %d, want 1", code)
	}

	code, out, errOut = run("status")
	if code != 0 || strings.Contains(out, "replicate setup") || !strings.Contains(out, "cn-northwest-1 does not answer") ||
		!strings.Contains(out, "READY for failover") {
		t.Fatalf("status with the primary dead: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run("status", "-o", "json")
	var st readiness.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || !st.PrimaryUnreachable || st.Serving != nil {
		t.Fatalf("status -o json with the primary dead: exit %d\n%s", code, out)
	}

	// A failover that failed half-way: the stack is between regions.
	end := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	saveRecords(ctx, t, cfgPath, &operation.Record{ID: "failover-0", Kind: operation.KindFailover, Stack: "wordpress",
		Phase: operation.PhasePartiallyFailed, Start: end.Add(-20 * time.Minute), End: end.Add(-19 * time.Minute)})
	code, out, errOut = run("status")
	if code != ExitFailed || !strings.Contains(out, "FAILOVER NOT FINISHED (PartiallyFailed)") || !strings.Contains(out, "pilotlight failover --yes") {
		t.Fatalf("status after a failed failover: exit %d\n%s\n%s", code, out, errOut)
	}

	// A failover completes (its record, as operation.Recover leaves it):
	// status now says where the stack runs, not that one is possible.
	saveRecords(ctx, t, cfgPath, &operation.Record{ID: "failover-1", Kind: operation.KindFailover, Stack: "wordpress",
		Phase: operation.PhaseCompleted, Start: end.Add(-5 * time.Minute), End: end})
	code, out, errOut = run("status")
	if code != 0 || !strings.Contains(out, "wordpress: SERVING FROM DR in cn-north-1 since "+end.Format(time.RFC3339)) ||
		strings.Contains(out, "READY") {
		t.Fatalf("status after a failover: exit %d\n%s\n%s", code, out, errOut)
	}
	// ... and what failback would do: the freeze and the
	// DR stack's teardown, named, while the primary is still dead.
	if !strings.Contains(out, "failback would, once cn-northwest-1 answers") ||
		!strings.Contains(out, "  freeze: ") || !strings.Contains(out, "  dr-app: ") {
		t.Fatalf("status after a failover does not say what failback would do:\n%s", out)
	}
	code, out, _ = run("status", "--output", "json")
	var serving readiness.Status
	if err := json.Unmarshal([]byte(out), &serving); err != nil || serving.Serving == nil || len(serving.Serving.Failback) == 0 {
		t.Fatalf("status --output json after a failover has no failback plan (exit %d, %v):\n%s", code, err, out)
	}

	// A failback since: the stack is back, and status asks the old question.
	proxy.ReviveRegion("cn-northwest-1")
	saveRecords(ctx, t, cfgPath, &operation.Record{ID: "failback-1", Kind: operation.KindFailback, Stack: "wordpress",
		Phase: operation.PhaseCompleted, Start: end.Add(time.Minute), End: end.Add(2 * time.Minute)})
	if code, out, _ = run("status"); code != 0 || strings.Contains(out, "SERVING FROM DR") || !strings.Contains(out, "READY for failover") {
		t.Fatalf("status after a failback: exit %d\n%s", code, out)
	}
}

// saveRecords writes operation records into the stack's state store.
func saveRecords(ctx context.Context, t *testing.T, cfgPath string, recs ...*operation.Record) {
	t.Helper()
	cfg, err := spec.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, r := range recs {
		if err := operation.Save(ctx, store, r); err != nil {
			t.Fatal(err)
		}
	}
}
