package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pilotlight/pilotlight/internal/schedule"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// scrape returns the value of every sample on /metrics by its full name
// with labels, as printed (e.g. `pilotlight_runs_total{kind="database",...}`).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// sample finds the sample of name whose labels include every given pair.
func sample(m map[string]float64, name string, labels ...string) (float64, bool) {
	for k, v := range m {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(k, labels[i]+`="`+labels[i+1]+`"`) {
				ok = false
			}
		}
		if ok {
			return v, true
		}
	}
	return 0, false
}

// waitFor polls cond until it holds or the test's patience ends; it
// asserts an outcome, not a speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeRunsCyclesAndMetricsMove(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var emf bytes.Buffer
	d, err := New(Options{Stack: f.cfg.Stack, Jobs: f.jobs(t), Runner: f.runner(), Store: f.store,
		MaxJitter: 100 * time.Millisecond, Seed: 7, Grace: 30 * time.Second, EMF: &EMF{Stack: f.cfg.Stack, W: &emf}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	db := []string{"resource", "wordpress-db"}
	var firstSuccess float64
	waitFor(t, "a first successful backup", func() bool {
		v, ok := sample(scrape(t, srv.URL), "pilotlight_last_success_timestamp_seconds", db...)
		firstSuccess = v
		return ok
	})
	var m map[string]float64
	waitFor(t, "three successful backups", func() bool {
		m = scrape(t, srv.URL)
		v, _ := sample(m, "pilotlight_runs_total", "resource", "wordpress-db", "result", "success")
		return v >= 3
	})
	if v, _ := sample(m, "pilotlight_last_success_timestamp_seconds", db...); v <= firstSuccess {
		t.Errorf("last success did not move: %v then %v", firstSuccess, v)
	}
	if v, ok := sample(m, "pilotlight_copy_duration_seconds_count", db...); !ok || v < 3 {
		t.Errorf("copy duration histogram count %v", v)
	}
	age1, ok := sample(m, "pilotlight_newest_dr_point_age_seconds", db...)
	if !ok || age1 < 0 || age1 > 60 {
		t.Errorf("newest DR point age %v (present %v)", age1, ok)
	}
	waitFor(t, "the bucket to converge", func() bool {
		v, ok := sample(scrape(t, srv.URL), "pilotlight_bucket_verify_converged", "bucket", "media")
		return ok && v == 1
	})
	if v, ok := sample(m, "pilotlight_failures_total", db...); ok && v != 0 {
		t.Errorf("failures %v", v)
	}

	// /healthz and the status page while running.
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "wordpress-db") || !strings.Contains(string(page), "media") {
		t.Fatalf("status page:\n%s", page)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	resp, _ = http.Get(srv.URL + "/healthz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz after stop: %d", resp.StatusCode)
	}
	resp.Body.Close()

	// Every run is recorded, and retention kept the DR region at keep.dr.
	for _, key := range []string{LastKey("wordpress-db"), LastKey("media"), VerifyKey("media")} {
		if _, err := f.store.Get(context.Background(), key); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	if n := len(f.drSnapshots(t)); n != 2 {
		t.Errorf("%d DR snapshots, want keep.dr=2", n)
	}
	// --emf: the same runs as CloudWatch embedded-metric-format lines.
	lines := readEMF(t, emf.Bytes())
	if l := lines["wordpress-db"]; l.Phase != PhaseCompleted || l.values[MetricRPO] == nil {
		t.Errorf("database EMF line %+v", l.values)
	}
	if l := lines["media"]; l.values[MetricVerifyConverged] != 1.0 {
		t.Errorf("bucket EMF line %+v", l.values)
	}
}

// TestShutdownRecordsHalfMadeCopy stops the daemon while a cross-region
// copy is in flight (the proxy holds CopyDBSnapshot) and the grace period
// runs out: the run must be recorded as interrupted, naming the snapshot
// it made, and the next run must finish that snapshot's copy rather than
// leave it behind or take another.
func TestShutdownRecordsHalfMadeCopy(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	p, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := newFixtureAt(t, acct.URL, p.URL)
	// points resumes an unfinished point younger than the interval; 2s
	// could pass before the second run on a loaded machine.
	f.cfg.Protect.Databases[0].Every, _ = spec.ParseSchedule("1h")
	jobs, _ := Select(f.jobs(t), []string{"wordpress-db"})
	hold := p.HoldFirst(testenv.Match{Service: "rds", Action: "CopyDBSnapshot"})

	d, err := New(Options{Stack: "wordpress", Jobs: jobs, Runner: f.runner(), Store: f.store, Grace: 300 * time.Millisecond, MaxJitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-hold.Reached():
	case <-time.After(45 * time.Second):
		t.Fatal("copy never started")
	}
	cancel() // SIGTERM in the CLI cancels this context
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hold.Release()

	data, err := f.store.Get(context.Background(), LastKey("wordpress-db"))
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.OK || r.Created == "" || r.Copied != "" {
		t.Fatalf("recorded %+v", r)
	}

	// The next run continues the interrupted job: it copies the recorded
	// snapshot (the DR copy keeps its name) and takes no second one.
	next := f.runner().Run(context.Background(), jobs[0], Trigger{Name: "schedule"})
	if !next.OK || next.Created != "" || next.Copied != r.Created || next.JobPhase != "done" {
		t.Fatalf("next run %+v, want it to finish the job of %s", next, r.Created)
	}
}

// TestShutdownLetsRunFinish: within the grace period a run in flight
// finishes and is recorded as a success.
func TestShutdownLetsRunFinish(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	p, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := newFixtureAt(t, acct.URL, p.URL)
	jobs, _ := Select(f.jobs(t), []string{"wordpress-db"})
	hold := p.HoldFirst(testenv.Match{Service: "rds", Action: "CopyDBSnapshot"})
	d, _ := New(Options{Stack: "wordpress", Jobs: jobs, Runner: f.runner(), Store: f.store, Grace: time.Minute, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-hold.Reached()
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a run was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	hold.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	data, _ := f.store.Get(context.Background(), LastKey("wordpress-db"))
	var r Result
	_ = json.Unmarshal(data, &r)
	if !r.OK || r.Copied == "" {
		t.Fatalf("recorded %+v", r)
	}
}

func TestLambdaHandlerInProcess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := &Lambda{Jobs: f.jobs(t), Runner: f.runner(), Store: f.store}
	h := lambda.NewHandler(l.Handle)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	out, err := h.Invoke(ctx, []byte(`{"action":"backup","only":["wordpress-db"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.OK || len(resp.Results) != 1 || resp.Results[0].Copied == "" || resp.Results[0].Trigger != "lambda" {
		t.Fatalf("backup: %s", out)
	}
	if len(f.drSnapshots(t)) != 1 {
		t.Fatal("no DR snapshot")
	}

	out, err = h.Invoke(ctx, []byte(`{"action":"verify"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp = Response{}
	_ = json.Unmarshal(out, &resp)
	if !resp.OK || len(resp.Results) != 1 || resp.Results[0].Synced != 3 || !resp.Results[0].Verify.Converged {
		t.Fatalf("verify: %s", out)
	}
	if _, err := f.store.Get(ctx, VerifyKey("media")); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []string{`{"action":"restore"}`, `{"action":"backup","only":["media"]}`, `{"action":"verify","only":["nope"]}`} {
		if _, err := h.Invoke(ctx, []byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// blockingRunner is a Runner whose runs wait for release: it tests the
// daemon's own bookkeeping, not AWS.
type blockingRunner struct {
	started chan string
	release chan struct{}
	active  atomic.Int32
	maxSeen atomic.Int32
}

func (b *blockingRunner) Run(ctx context.Context, j Job, tr Trigger) Result {
	trigger := tr.Name
	n := b.active.Add(1)
	defer b.active.Add(-1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	b.started <- j.Resource
	r := Result{Resource: j.Resource, Kind: j.Kind, Trigger: trigger, Started: time.Now()}
	select {
	case <-b.release:
		r.OK = true
	case <-ctx.Done():
		r.Error, r.Interrupted = ctx.Err().Error(), true
	}
	r.Ended = time.Now()
	return r
}

func job(t *testing.T, name, every string) Job {
	t.Helper()
	s, err := spec.ParseSchedule(every)
	if err != nil {
		t.Fatal(err)
	}
	c, err := schedule.Compile(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Job{Resource: name, Kind: KindDatabase, Schedule: c}
}

func TestNeverTwoRunsOfOneResource(t *testing.T) {
	br := &blockingRunner{started: make(chan string, 10), release: make(chan struct{})}
	j := job(t, "db", "2s")
	d, err := New(Options{Stack: "s", Jobs: []Job{j}, Runner: br, Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.runOnce(context.Background(), j, Trigger{Name: "schedule"}) }()
	<-br.started
	// A second start while the first is running is refused.
	if _, ran := d.runOnce(context.Background(), j, Trigger{Name: "lambda"}); ran {
		t.Fatal("second run started")
	}
	close(br.release)
	wg.Wait()
	if br.maxSeen.Load() != 1 {
		t.Fatalf("%d runs at once", br.maxSeen.Load())
	}
	if _, ran := d.runOnce(context.Background(), j, Trigger{Name: "schedule"}); !ran {
		t.Fatal("a run after the first finished was refused")
	}
}

func TestJitterIsBoundedAndSeeded(t *testing.T) {
	j := job(t, "db", "2h")
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	draw := func(seed uint64) []time.Duration {
		d, _ := New(Options{Stack: "s", Jobs: []Job{j}, Runner: &blockingRunner{}, Seed: seed,
			MaxJitter: time.Minute, Now: func() time.Time { return now }})
		var out []time.Duration
		for i := 0; i < 50; i++ {
			_, at := d.nextFire(j, now.Add(-time.Hour))
			jit := at.Sub(now.Add(time.Hour))
			if jit < 0 || jit >= time.Minute {
				t.Fatalf("jitter %v outside [0, 1m)", jit)
			}
			out = append(out, jit)
		}
		return out
	}
	a, b := draw(42), draw(42)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different jitter")
		}
	}
	// A 2s schedule is jittered by at most a tenth of it.
	short := job(t, "db", "2s")
	d, _ := New(Options{Stack: "s", Jobs: []Job{short}, Runner: &blockingRunner{}, Seed: 1, Now: func() time.Time { return now }})
	for i := 0; i < 50; i++ {
		_, at := d.nextFire(short, time.Time{})
		if jit := at.Sub(now); jit < 0 || jit >= 200*time.Millisecond {
			t.Fatalf("2s schedule jittered by %v", jit)
		}
	}
}

func TestOverdueIntervalRunsAtOnceAndCountsSkips(t *testing.T) {
	j := job(t, "db", "1h")
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d, _ := New(Options{Stack: "s", Jobs: []Job{j}, Runner: &blockingRunner{}, MaxJitter: -1, Now: func() time.Time { return now }})
	if _, at := d.nextFire(j, now.Add(-3*time.Hour-time.Minute)); !at.Equal(now) {
		t.Fatalf("overdue job scheduled at %v", at)
	}
	m := map[string]float64{}
	mfs, _ := d.metrics.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "pilotlight_skipped_runs_total" {
			m["skipped"] = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if m["skipped"] != 2 {
		t.Fatalf("skipped %v, want 2", m["skipped"])
	}
}

func TestRestartContinuesInterval(t *testing.T) {
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j := job(t, "db", "2h")
	now := time.Now()
	last := Result{Resource: "db", Kind: KindDatabase, OK: true, Started: now.Add(-30 * time.Minute), Ended: now.Add(-29 * time.Minute),
		NewestDR: now.Add(-30 * time.Minute)}
	data, _ := json.Marshal(last)
	if err := store.Put(context.Background(), LastKey("db"), data); err != nil {
		t.Fatal(err)
	}
	br := &blockingRunner{started: make(chan string, 1), release: make(chan struct{})}
	d, _ := New(Options{Stack: "s", Jobs: []Job{j}, Runner: br, Store: store, MaxJitter: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, "the next run to be scheduled", func() bool {
		rows := d.rows()
		return !rows[0].Next.IsZero()
	})
	rows := d.rows()
	if want := last.Started.Add(2 * time.Hour); !rows[0].Next.Equal(want) {
		t.Errorf("next %v, want %v (last start + 2h)", rows[0].Next, want)
	}
	if !rows[0].HasDR || rows[0].NewestDR < 29*time.Minute {
		t.Errorf("restored DR age %v", rows[0].NewestDR)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-br.started:
		t.Fatalf("%s ran at once after a restart", r)
	default:
	}
}

// M1: a run that never ends (an endpoint that accepts and never answers,
// a call that ignores cancellation) made /healthz say ok for ever. A run
// is now bounded by RunTimeout, and one still going past StuckAfter makes
// /healthz answer 503 so that a liveness probe restarts the daemon.
func TestStuckRunMakesHealthzUnhealthy(t *testing.T) {
	hung := &blockingRunner{started: make(chan string, 10), release: make(chan struct{})}
	j := job(t, "db", "2s")
	d, err := New(Options{Stack: "s", Jobs: []Job{j}, Runner: hung, Grace: time.Minute, StuckAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.running.Store(true)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	health := func() (int, Health) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h Health
		_ = json.NewDecoder(resp.Body).Decode(&h)
		return resp.StatusCode, h
	}
	if code, h := health(); code != http.StatusOK {
		t.Fatalf("idle daemon: %d %+v", code, h)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.runOnce(context.Background(), j, Trigger{Name: "schedule"}) }()
	defer func() { close(hung.release); wg.Wait() }()
	<-hung.started
	waitFor(t, "healthz to report the stuck run", func() bool {
		code, h := health()
		return code == http.StatusServiceUnavailable && h.Status == "stuck" && len(h.Stuck) == 1 && h.Stuck[0] == "db"
	})
}

// A run is cancelled at RunTimeout (its runner sees the context end) and
// recorded, instead of holding its resource.
func TestRunIsBoundedByRunTimeout(t *testing.T) {
	hung := &blockingRunner{started: make(chan string, 10), release: make(chan struct{})}
	j := job(t, "db", "2s")
	d, err := New(Options{Stack: "s", Jobs: []Job{j}, Runner: hung, Grace: time.Minute, RunTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, ran := d.runOnce(context.Background(), j, Trigger{Name: "schedule"})
	if !ran || time.Since(start) > 30*time.Second {
		t.Fatalf("run not bounded: ran %v after %s", ran, time.Since(start))
	}
	if r.OK {
		t.Fatalf("a run cut at its bound is recorded as not ok: %+v", r)
	}
}
