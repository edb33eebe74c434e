package serve

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// recordingRunner keeps every run of the runner it wraps.
type recordingRunner struct {
	Runner
	mu   sync.Mutex
	runs []Result
}

func (r *recordingRunner) Run(ctx context.Context, j Job, tr Trigger) Result {
	res := r.Runner.Run(ctx, j, tr)
	r.mu.Lock()
	r.runs = append(r.runs, res)
	r.mu.Unlock()
	return res
}

func (r *recordingRunner) of(resource string) []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Result
	for _, x := range r.runs {
		if x.Resource == resource {
			out = append(out, x)
		}
	}
	return out
}

// slowCopyFixture is the serve fixture with four databases behind a proxy
// running AWS's clock (internal/emulator): moto finishes a cross-region
// snapshot copy inside the call, AWS takes hours; here a copy stays
// `copying` for copyFor of real time.
func slowCopyFixture(t *testing.T, copyFor time.Duration) (*fixture, *emulator.Clock) {
	t.Helper()
	acct := testenv.Shared(t).NewAccount(t)
	p, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	f := newFixtureAt(t, acct.URL, p.URL)
	setup := rds.NewFromConfig(testenv.AWS(t, acct.URL).For(primary))
	for _, id := range []string{"db2", "db3", "db4"} {
		if _, err := setup.CreateDBInstance(context.Background(), &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"),
			DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20),
			MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("secret123456"),
		}); err != nil {
			t.Fatal(err)
		}
		d := f.cfg.Protect.Databases[0]
		d.ID = id
		f.cfg.Protect.Databases = append(f.cfg.Protect.Databases, d)
	}
	const minute = 100 * time.Millisecond
	d := emulator.DefaultDurations()
	d.DBSnapshot = emulator.Sized{Base: time.Minute}
	d.DBSnapshotCopy = emulator.Sized{Base: time.Duration(copyFor/minute) * time.Minute}
	return f, p.EnableClock(emulator.ClockOptions{Minute: minute, Durations: &d})
}

// TestServeVerifyKeepsScheduleWhileFourCopiesRun is issue 18's acceptance
// for serve: four database copies that outlast the test must not hold the
// daemon's four slots, so the bucket's 2s verify keeps running on
// schedule, and each database is one job (one snapshot) whatever the
// number of steps.
func TestServeVerifyKeepsScheduleWhileFourCopiesRun(t *testing.T) {
	t.Parallel()
	f, _ := slowCopyFixture(t, time.Minute)
	rec := &recordingRunner{Runner: f.runner()}
	d, err := New(Options{Stack: "wordpress", Jobs: f.jobs(t), Runner: rec, Store: f.store, Parallelism: 4, MaxJitter: -1, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// Until every database's copy is running and three verifies after it.
	deadline := time.Now().Add(40 * time.Second)
	copying := func() bool {
		for _, db := range f.cfg.Protect.Databases {
			runs := rec.of(db.ID)
			if len(runs) == 0 || runs[len(runs)-1].JobPhase != string(points.PhaseCopying) {
				return false
			}
		}
		return true
	}
	var since time.Time
	for time.Now().Before(deadline) {
		if since.IsZero() && copying() {
			since = time.Now()
		}
		if !since.IsZero() && countAfter(rec.of("media"), since) >= 3 {
			break
		}
		tick := time.NewTimer(100 * time.Millisecond)
		<-tick.C
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if since.IsZero() {
		t.Fatalf("the four copies never ran together: %+v", rec.runs)
	}
	verifies := rec.of("media")
	if n := countAfter(verifies, since); n < 3 {
		t.Fatalf("while four copies ran, the 2s verify ran %d times in %v", n, time.Since(since).Round(time.Millisecond))
	}
	for _, v := range verifies {
		if !v.OK {
			t.Errorf("verify run failed: %+v", v)
		}
	}
	for _, db := range f.cfg.Protect.Databases {
		runs := rec.of(db.ID)
		for _, r := range runs {
			if !r.OK || r.Interrupted {
				t.Errorf("%s: a step of a running copy failed: %+v", db.ID, r)
			}
			// A step makes a few calls; it never waits for the copy.
			if took := r.Ended.Sub(r.Started); took > 20*time.Second { // the copy is held 60 s
				t.Errorf("%s: a step held its slot for %v", db.ID, took)
			}
		}
		if last := runs[len(runs)-1]; !last.Pending || last.Copied != "" {
			t.Errorf("%s: last step %+v, want the copy still pending", db.ID, last)
		}
		out, err := rds.NewFromConfig(f.env.For(primary)).DescribeDBSnapshots(context.Background(),
			&rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(db.ID), SnapshotType: aws.String("manual")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.DBSnapshots) != 1 {
			t.Errorf("%s: %d snapshots after %d steps, want one job's one", db.ID, len(out.DBSnapshots), len(runs))
		}
	}
	jobs, err := points.Jobs(context.Background(), f.store, "wordpress")
	if err != nil || len(jobs) != 4 {
		t.Fatalf("recorded jobs %+v, %v", jobs, err)
	}
	for _, j := range jobs {
		if j.Phase != points.PhaseCopying {
			t.Errorf("job %s recorded %s, want copying", j.Resource, j.Phase)
		}
	}
}

func countAfter(rs []Result, t time.Time) int {
	n := 0
	for _, r := range rs {
		if !r.Started.Before(t) {
			n++
		}
	}
	return n
}

// TestLambdaReturnsWhileCopyRuns: a Lambda invocation during a long copy
// succeeds at once with the job pending; a retry of the same tick joins
// the job and takes no second snapshot; once AWS finishes the copy the
// next invocation completes the job.
func TestLambdaReturnsWhileCopyRuns(t *testing.T) {
	t.Parallel()
	f, clock := slowCopyFixture(t, 5*time.Second)
	l := &Lambda{Jobs: f.jobs(t), Runner: f.runner(), Store: f.store}
	h := lambda.NewHandler(l.Handle)
	invoke := func(ev string) Response {
		t.Helper()
		// Lambda's deadline, scaled: a step must end well inside it.
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		start := time.Now()
		out, err := h.Invoke(ctx, []byte(ev))
		if err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("%s took %v", ev, took)
		}
		var resp Response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ev := `{"action":"backup","only":["wordpress-db"],"tick":"2026-12-07T06:00:00Z"}`
	var first Response
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatalf("the copy never started: %+v", first)
		}
		first = invoke(ev)
		if r := first.Results[0]; !first.OK || !r.Pending {
			t.Fatalf("first invocation %+v, want success with the job pending", first)
		}
		if first.Results[0].JobPhase == string(points.PhaseCopying) {
			break
		}
	}
	began := time.Now() // the job started before this
	// Lambda's retry of the same event: the same tick joins the job.
	retry := invoke(ev)
	if r := retry.Results[0]; !retry.OK || r.Created != "" || !r.Pending {
		t.Fatalf("retry %+v, want it to join the running job", retry)
	}
	clock.Advance(time.Hour)
	spanned := time.Since(began)
	done := invoke(ev)
	if r := done.Results[0]; !done.OK || r.Pending || r.JobPhase != string(points.PhaseDone) || r.Copied == "" {
		t.Fatalf("after the copy finished %+v, want the job done", done)
	}
	// The cycle's duration is the job's, over all its runs.
	if d := done.Results[0].CycleDuration; d < spanned {
		t.Errorf("cycle duration %v, want the job's %v or more", d, spanned)
	}
	out, err := rds.NewFromConfig(f.env.For(primary)).DescribeDBSnapshots(context.Background(),
		&rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String("wordpress-db"), SnapshotType: aws.String("manual")})
	if err != nil || len(out.DBSnapshots) != 1 {
		t.Fatalf("primary snapshots %d, %v: want one", len(out.DBSnapshots), err)
	}
}

// TestVerifyOutOfTimeIsNotTheLastVerify: a bucket verify that runs out of
// time (a Lambda near its deadline) leaves its position in the state store
// and succeeds without recording its partial counts as the bucket's verify
// result; a run with time finishes and is recorded.
func TestVerifyOutOfTimeIsNotTheLastVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jobs, _ := Select(f.jobs(t), []string{"media"})
	// Less time left than the checkpoint margin: the verify stops at once.
	short, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := f.runner().Run(short, jobs[0], Trigger{Name: "lambda"})
	if !r.OK || !r.VerifyIncomplete || r.Verify != nil {
		t.Fatalf("out-of-time verify %+v, want success, incomplete, no verify result", r)
	}
	if _, err := f.store.Get(context.Background(), VerifyKey("media")); err == nil {
		t.Fatal("an incomplete verify was recorded as the bucket's last verify")
	}
	r = f.runner().Run(context.Background(), jobs[0], Trigger{Name: "lambda"})
	if !r.OK || r.VerifyIncomplete || r.Verify == nil || !r.Verify.Converged || r.Synced != 3 {
		t.Fatalf("verify with time %+v", r)
	}
	if _, err := f.store.Get(context.Background(), VerifyKey("media")); err != nil {
		t.Fatalf("complete verify not recorded: %v", err)
	}
}

// TestServeFollowsUpRunningCopy: a run that leaves a copy running in AWS
// is followed up well before the next scheduled run (here an hour away),
// without a new job, so the finished copy is pruned and shown done soon
// after AWS finishes it.
func TestServeFollowsUpRunningCopy(t *testing.T) {
	t.Parallel()
	f, _ := slowCopyFixture(t, 2*time.Second)
	f.cfg.Protect.Databases[0].Every, _ = spec.ParseSchedule("1h")
	jobs, _ := Select(f.jobs(t), []string{"wordpress-db"})
	rec := &recordingRunner{Runner: f.runner()}
	d, err := New(Options{Stack: "wordpress", Jobs: jobs, Runner: rec, Store: f.store, MaxJitter: -1, FollowUp: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	finished := func() bool {
		runs := rec.of("wordpress-db")
		return len(runs) > 0 && runs[len(runs)-1].JobPhase == string(points.PhaseDone)
	}
	for deadline := time.Now().Add(30 * time.Second); !finished() && time.Now().Before(deadline); {
		tick := time.NewTimer(100 * time.Millisecond)
		<-tick.C
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runs := rec.of("wordpress-db")
	if !finished() || len(runs) < 2 {
		t.Fatalf("the running copy was not followed up to done within 30s of an hourly schedule: %+v", runs)
	}
	if runs[0].FollowUp || runs[0].Created == "" {
		t.Errorf("first run %+v, want the scheduled run that starts the job", runs[0])
	}
	for _, r := range runs[1:] {
		if !r.FollowUp || !r.OK || r.Created != "" {
			t.Errorf("follow-up %+v, want a successful run that starts nothing", r)
		}
	}
	if last := runs[len(runs)-1]; last.Copied == "" || last.NewestDRID == "" {
		t.Errorf("finishing run %+v, want the copy and the newest DR point", last)
	}
}
