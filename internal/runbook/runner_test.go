package runbook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(testenv.Main(m))
}

// testTimeout turns a hang (a step never released) into a failure.
const testTimeout = 20 * time.Second

func localStore(t testing.TB) state.Store {
	t.Helper()
	s, err := state.OpenDir(filepath.Join(t.TempDir(), ".pilotlight"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// remoteStore is the team backend on moto, in the DR region.
func remoteStore(t testing.TB) state.Store {
	return newRemote(t).store
}

type remote struct {
	store     state.Store
	url, path string
}

func newRemote(t testing.TB) remote {
	t.Helper()
	acct := testenv.Shared(t).NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	ctx := context.Background()
	bucket := "runbook-state-" + acct.ID
	if _, err := s3.NewFromConfig(env.For("cn-north-1"), func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(bucket), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "cn-north-1"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(env.For("cn-north-1")).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("pilotlight-locks"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("LockID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("LockID"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	path := "s3://" + bucket + "/teams/web"
	s, err := state.Open(ctx, stateConfig(path), env)
	if err != nil {
		t.Fatal(err)
	}
	return remote{store: s, url: acct.URL, path: path}
}

// stateConfig is the config of the test stack with its state at path.
func stateConfig(path string) *spec.Config {
	return &spec.Config{Stack: "wordpress", Primary: spec.Region{Region: "cn-northwest-1"}, DR: spec.Region{Region: "cn-north-1"},
		State: spec.State{Path: path, LockTable: "pilotlight-locks"}}
}

var stores = []struct {
	name string
	open func(testing.TB) state.Store
}{{"local", localStore}, {"s3+dynamodb", remoteStore}}

// recorder counts how often each step's body ran and what it saw.
type recorder struct {
	mu    sync.Mutex
	runs  map[string]int
	fail  map[string]error
	order []string
}

func newRecorder() *recorder { return &recorder{runs: map[string]int{}, fail: map[string]error{}} }

// step makes a step whose output is its id joined to its needs' outputs,
// so a run's last output proves every output reached it.
func (r *recorder) step(id string, needs ...string) Step {
	return Step{ID: id, Needs: needs, Plan: "make " + id, Run: func(ctx context.Context, rc *RunContext) (Outputs, error) {
		r.mu.Lock()
		r.runs[id]++
		r.order = append(r.order, id)
		err := r.fail[id]
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
		v := id
		for _, n := range needs {
			got := rc.Output(n, "v")
			if got == "" {
				return nil, fmt.Errorf("no output from %s", n)
			}
			v += "(" + got + ")"
		}
		return Outputs{"v": v}, nil
	}}
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

func mustGraph(t testing.TB, steps ...Step) *Graph {
	t.Helper()
	g, err := New(steps...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func phases(j *Journal) string {
	var out []string
	for _, s := range j.Steps {
		out = append(out, s.ID+"="+string(s.Phase))
	}
	return strings.Join(out, " ")
}

func TestRunOrderAndOutputs(t *testing.T) {
	for _, sb := range stores {
		t.Run(sb.name, func(t *testing.T) {
			t.Parallel()
			store := sb.open(t)
			rec := newRecorder()
			g := mustGraph(t, rec.step("a"), rec.step("b", "a"), rec.step("c", "a"), rec.step("d", "b", "c"), rec.step("e", "d"))
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			j, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "drill", map[string]string{"point": "p1"})
			if err != nil {
				t.Fatal(err)
			}
			if j.Phase != PhaseDone || phases(j) != "a=done b=done c=done d=done e=done" {
				t.Fatalf("journal: %s %s", j.Phase, phases(j))
			}
			e, _ := j.Step("e")
			if e.Outputs["v"] != "e(d(b(a))(c(a)))" {
				t.Fatalf("outputs did not flow: %q", e.Outputs["v"])
			}
			for _, s := range j.Steps {
				for _, n := range s.Needs {
					dep, _ := j.Step(n)
					if dep.End.After(s.Start) {
						t.Errorf("%s started at %v before its need %s ended at %v", s.ID, s.Start, n, dep.End)
					}
				}
				if s.Attempts != 1 {
					t.Errorf("%s attempts %d", s.ID, s.Attempts)
				}
			}
			stored, err := Load(ctx, store, j.ID)
			if err != nil || stored.Phase != PhaseDone || stored.Meta["point"] != "p1" || !strings.HasPrefix(j.ID, "drill-") {
				t.Fatalf("stored journal: %+v %v", stored, err)
			}
			if u, err := Unfinished(ctx, store, "wordpress", "drill"); u != nil || err != nil {
				t.Fatalf("a done run is not unfinished: %+v %v", u, err)
			}
			// A second run is a new run.
			j2, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "drill", nil)
			if err != nil || j2.ID == j.ID || rec.count("a") != 2 {
				t.Fatalf("second run: %v %v", j2.ID, err)
			}
			list, err := List(ctx, store, "wordpress")
			if err != nil || len(list) != 2 || list[0].ID != j2.ID {
				t.Fatalf("list newest first: %v", err)
			}
			if other, _ := List(ctx, store, "other-stack"); len(other) != 0 {
				t.Fatalf("list of another stack: %d", len(other))
			}
		})
	}
}

// TestParallel proves independent steps run at the same time without a
// timed assertion: each waits until all of them have started.
func TestParallel(t *testing.T) {
	const n = 4
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	var steps []Step
	for i := 0; i < n; i++ {
		steps = append(steps, Step{ID: fmt.Sprint("s", i), Needs: []string{"root"}, Run: func(ctx context.Context, _ *RunContext) (Outputs, error) {
			arrived.Done()
			select {
			case <-all:
				return nil, nil
			case <-ctx.Done():
				return nil, errors.New("the other steps never started alongside")
			}
		}})
	}
	steps = append(steps, Step{ID: "root", Run: noop})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	j, err := (&Runner{Store: localStore(t), Parallelism: n}).Run(ctx, mustGraph(t, steps...), "wordpress", "drill", nil)
	if err != nil || j.Phase != PhaseDone {
		t.Fatalf("%v %v", err, j)
	}
}

func TestParallelismBound(t *testing.T) {
	for _, par := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			var cur, peak atomic.Int32
			var steps []Step
			for i := 0; i < 8; i++ {
				steps = append(steps, Step{ID: fmt.Sprint("s", i), Run: func(ctx context.Context, _ *RunContext) (Outputs, error) {
					n := cur.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(2 * time.Millisecond) // lets steps overlap; nothing is asserted on time
					cur.Add(-1)
					return nil, nil
				}})
			}
			j, err := (&Runner{Store: localStore(t), Parallelism: par}).Run(context.Background(), mustGraph(t, steps...), "wordpress", "drill", nil)
			if err != nil || j.Phase != PhaseDone {
				t.Fatal(err)
			}
			if p := int(peak.Load()); p > par {
				t.Fatalf("%d steps ran at once, bound %d", p, par)
			}
		})
	}
}

func TestFailurePropagation(t *testing.T) {
	cases := []struct {
		name     string
		steps    []string // "id<-needs"
		fail     []string
		want     string
		failed   []string
		skipped  []string
		mustRun  []string
		mustSkip []string
	}{
		{
			name: "diamond side fails, independent branch finishes", steps: []string{"a", "b<-a", "c<-a", "d<-b,c", "x", "y<-x"},
			fail: []string{"b"}, want: "a=done b=failed c=done d=skipped x=done y=done",
			failed: []string{"b"}, skipped: []string{"d"},
		},
		{
			name: "root fails, everything below skipped", steps: []string{"a", "b<-a", "c<-b", "d<-c"},
			fail: []string{"a"}, want: "a=failed b=skipped c=skipped d=skipped",
			failed: []string{"a"}, skipped: []string{"b", "c", "d"},
		},
		{
			name: "two failures are both named", steps: []string{"network", "db<-network", "cache<-network", "app<-db,cache", "dns<-app"},
			fail: []string{"db", "cache"}, want: "network=done db=failed cache=failed app=skipped dns=skipped",
			failed: []string{"db", "cache"}, skipped: []string{"app", "dns"},
		},
		{
			name: "leaf fails", steps: []string{"a", "b<-a", "c<-a"},
			fail: []string{"c"}, want: "a=done b=done c=failed", failed: []string{"c"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			var steps []Step
			for _, s := range c.steps {
				id, needs, _ := strings.Cut(s, "<-")
				var ns []string
				if needs != "" {
					ns = strings.Split(needs, ",")
				}
				steps = append(steps, rec.step(id, ns...))
			}
			for _, f := range c.fail {
				rec.fail[f] = fmt.Errorf("RestoreDBInstanceFromDBSnapshot %s-id: cn-north-1: InsufficientDBInstanceCapacity", f)
			}
			store := localStore(t)
			j, err := (&Runner{Store: store, Parallelism: 1}).Run(context.Background(), mustGraph(t, steps...), "wordpress", "failover", nil)
			if j == nil || j.Phase != PhaseFailed || phases(j) != c.want {
				t.Fatalf("journal %v: %s, want %s", j.Phase, phases(j), c.want)
			}
			var re *RunError
			if !errors.As(err, &re) {
				t.Fatalf("want *RunError, got %v", err)
			}
			for _, f := range c.failed {
				if !strings.Contains(err.Error(), "step "+f+" failed: RestoreDBInstanceFromDBSnapshot "+f+"-id") {
					t.Errorf("error does not name %s and why: %v", f, err)
				}
			}
			if strings.Join(re.Skipped, ",") != strings.Join(c.skipped, ",") {
				t.Errorf("skipped %v, want %v", re.Skipped, c.skipped)
			}
			for _, s := range c.skipped {
				if rec.count(s) != 0 {
					t.Errorf("skipped step %s ran", s)
				}
				if r, _ := j.Step(s); !strings.Contains(r.Error, "failed") {
					t.Errorf("skipped step %s does not say why: %q", s, r.Error)
				}
			}
			stored, _ := Load(context.Background(), store, j.ID)
			if stored.Phase != PhaseFailed || phases(stored) != c.want || stored.Error == "" {
				t.Fatalf("stored: %s %s", stored.Phase, phases(stored))
			}
		})
	}
}

func TestResumeAfterFailure(t *testing.T) {
	for _, sb := range stores {
		t.Run(sb.name, func(t *testing.T) {
			t.Parallel()
			store := sb.open(t)
			rec := newRecorder()
			g := mustGraph(t, rec.step("a"), rec.step("b", "a"), rec.step("c", "a"), rec.step("d", "b", "c"), rec.step("x"))
			rec.fail["b"] = errors.New("throttled for good")
			ctx := context.Background()
			j1, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "failover", map[string]string{"point": "snap-1"})
			if err == nil || j1.Phase != PhaseFailed {
				t.Fatalf("first run: %v", err)
			}
			if u, _ := Unfinished(ctx, store, "wordpress", "failover"); u == nil || u.ID != j1.ID {
				t.Fatal("a failed run must be resumable")
			}
			delete(rec.fail, "b")
			j2, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "failover", map[string]string{"point": "snap-2", "extra": "1"})
			if err != nil {
				t.Fatal(err)
			}
			if j2.ID != j1.ID || j2.Resumes != 1 || j2.Phase != PhaseDone {
				t.Fatalf("resume: id %s→%s resumes %d phase %s", j1.ID, j2.ID, j2.Resumes, j2.Phase)
			}
			for id, want := range map[string]int{"a": 1, "c": 1, "x": 1, "b": 2, "d": 1} {
				if got := rec.count(id); got != want {
					t.Errorf("%s ran %d times, want %d", id, got, want)
				}
			}
			if b, _ := j2.Step("b"); b.Attempts != 2 {
				t.Errorf("b attempts %d", b.Attempts)
			}
			if d, _ := j2.Step("d"); d.Outputs["v"] != "d(b(a))(c(a))" {
				t.Errorf("outputs of steps done before the resume were not reused: %q", d.Outputs["v"])
			}
			if j2.Meta["point"] != "snap-1" || j2.Meta["extra"] != "1" {
				t.Errorf("a resumed run keeps its first meta: %v", j2.Meta)
			}
		})
	}
}

func TestCancellation(t *testing.T) {
	store := localStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var laterRan atomic.Bool
	var sawStop atomic.Bool
	g := mustGraph(t,
		Step{ID: "slow", Run: func(ctx context.Context, rc *RunContext) (Outputs, error) {
			close(started)
			select {
			case <-rc.Stopping():
				sawStop.Store(true)
				if ctx.Err() != nil {
					return nil, errors.New("the step's context was cancelled before its grace period")
				}
				return nil, ErrStopped
			case <-time.After(testTimeout):
				return nil, errors.New("never told to stop")
			}
		}},
		Step{ID: "later", Needs: []string{"slow"}, Run: func(context.Context, *RunContext) (Outputs, error) {
			laterRan.Store(true)
			return nil, nil
		}},
	)
	go func() { <-started; cancel() }()
	var events []Event
	j, err := (&Runner{Store: store, Grace: time.Minute, Events: func(e Event) { events = append(events, e) }}).Run(ctx, g, "wordpress", "drill", nil)
	if !errors.Is(err, context.Canceled) || j.Phase != PhaseCancelled {
		t.Fatalf("want a cancelled run, got %v %v", j.Phase, err)
	}
	if !sawStop.Load() || laterRan.Load() {
		t.Fatal("running step not stopped at its safe point, or a new step started")
	}
	if phases(j) != "slow=cancelled later=pending" || !strings.Contains(err.Error(), "not started: later") {
		t.Fatalf("journal %s, err %v", phases(j), err)
	}
	if last := events[len(events)-1]; !last.Final || last.Phase != PhaseCancelled {
		t.Fatalf("last event %+v", last)
	}
	// Run again: it resumes and finishes.
	g2 := mustGraph(t, Step{ID: "slow", Run: noop}, Step{ID: "later", Needs: []string{"slow"}, Run: noop})
	j2, err := (&Runner{Store: store}).Run(context.Background(), g2, "wordpress", "drill", nil)
	if err != nil || j2.ID != j.ID || j2.Phase != PhaseDone {
		t.Fatalf("resume after cancel: %v %v", j2, err)
	}
}

// A step that ignores Stopping but honours its context is cut off after the
// grace period and recorded as cancelled.
func TestCancellationGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := mustGraph(t, Step{ID: "waiter", Run: func(ctx context.Context, _ *RunContext) (Outputs, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	j, err := (&Runner{Store: localStore(t), Grace: time.Millisecond}).Run(ctx, g, "wordpress", "drill", nil)
	if !errors.Is(err, context.Canceled) || phases(j) != "waiter=cancelled" {
		t.Fatalf("%v %s", err, phases(j))
	}
}

func TestPanickingStepFailsAlone(t *testing.T) {
	g := mustGraph(t,
		Step{ID: "buggy", Run: func(context.Context, *RunContext) (Outputs, error) {
			var m map[string]int
			m["x"]++
			return nil, nil
		}},
		Step{ID: "fine", Run: noop},
	)
	j, err := (&Runner{Store: localStore(t)}).Run(context.Background(), g, "wordpress", "drill", nil)
	if err == nil || !strings.Contains(err.Error(), "step buggy failed: step buggy panicked") || phases(j) != "buggy=failed fine=done" {
		t.Fatalf("%v %s", err, phases(j))
	}
}

// TestJournalIsLive reads the journal from the store while a step runs, as
// `pilotlight runs` does from another process.
func TestJournalIsLive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".pilotlight")
	store, err := state.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := state.OpenDir(dir) // a second opener, as another process
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	g := mustGraph(t, Step{ID: "first", Run: noop}, Step{ID: "second", Needs: []string{"first"}, Run: func(ctx context.Context, rc *RunContext) (Outputs, error) {
		j, err := Load(ctx, reader, rc.RunID())
		if err != nil {
			return nil, err
		}
		seen = string(j.Phase) + ": " + phases(j)
		return nil, nil
	}})
	if _, err := (&Runner{Store: store}).Run(context.Background(), g, "wordpress", "drill", nil); err != nil {
		t.Fatal(err)
	}
	if seen != "running: first=done second=running" {
		t.Fatalf("a reader saw %q", seen)
	}
}

func TestAbandonStartsAfresh(t *testing.T) {
	store := localStore(t)
	rec := newRecorder()
	rec.fail["a"] = errors.New("boom")
	g := mustGraph(t, rec.step("a"))
	ctx := context.Background()
	j1, _ := (&Runner{Store: store}).Run(ctx, g, "wordpress", "drill", nil)
	if err := Abandon(ctx, store, j1.ID, "torn down by hand"); err != nil {
		t.Fatal(err)
	}
	delete(rec.fail, "a")
	j2, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "drill", nil)
	if err != nil || j2.ID == j1.ID || j2.Resumes != 0 {
		t.Fatalf("after abandon: %v %v", j2, err)
	}
	old, _ := Load(ctx, store, j1.ID)
	if old.Phase != PhaseAbandoned || old.Meta["abandoned"] != "torn down by hand" {
		t.Fatalf("abandoned journal %+v", old)
	}
	if err := Abandon(ctx, store, j2.ID, "x"); err == nil {
		t.Fatal("a done run cannot be abandoned")
	}
}

func TestEvents(t *testing.T) {
	var mu sync.Mutex
	var evs []string
	rec := newRecorder()
	rec.fail["b"] = errors.New("no capacity")
	g := mustGraph(t, rec.step("a"), rec.step("b", "a"), rec.step("c", "b"))
	_, _ = (&Runner{Store: localStore(t), Events: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.RunID == "" || e.Time.IsZero() {
			t.Errorf("event without run or time: %+v", e)
		}
		evs = append(evs, fmt.Sprintf("%s:%s", firstOf(e.Step, "run"), e.Phase))
	}}).Run(context.Background(), g, "wordpress", "drill", nil)
	want := "run:running a:pending b:pending c:pending a:running a:done b:running b:failed c:skipped run:failed"
	if got := strings.Join(evs, " "); got != want {
		t.Fatalf("events:\n%s\nwant\n%s", got, want)
	}
}

func TestRunRefusesIncompleteGraph(t *testing.T) {
	g := mustGraph(t, Step{ID: "plan-only"})
	if _, err := (&Runner{Store: localStore(t)}).Run(context.Background(), g, "s", "drill", nil); err == nil || !strings.Contains(err.Error(), "plan-only") {
		t.Fatalf("%v", err)
	}
	if _, err := (&Runner{}).Run(context.Background(), g, "s", "drill", nil); err == nil {
		t.Fatal("no store")
	}
}
