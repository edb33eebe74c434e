package points

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// copyClock simulates what moto cannot: cross-region copies that run for
// a while in AWS. moto finishes every copy inside the call; here a copy to
// the DR region reports pending/copying (RDS) or pending (the image and its
// EBS snapshots) until it is released, either after a real duration or by
// the test. It is one "AWS account" shared by every simulated invocation,
// and it measures, from AWS's side, how many copies were in flight at once.
type copyClock struct {
	mu      sync.Mutex
	runFor  time.Duration // 0: until release
	until   map[string]time.Time
	kind    map[string]Kind
	weight  map[string]int
	ebsOf   map[string][]string // image -> its snapshots
	peak    map[Kind]int
	started map[Kind]int
}

func newCopyClock(runFor time.Duration) *copyClock {
	return &copyClock{runFor: runFor, until: map[string]time.Time{}, kind: map[string]Kind{}, weight: map[string]int{},
		ebsOf: map[string][]string{}, peak: map[Kind]int{}, started: map[Kind]int{}}
}

func (c *copyClock) start(id string, k Kind, weight int, snaps []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := time.Now().Add(c.runFor)
	if c.runFor == 0 {
		end = time.Now().Add(time.Hour)
	}
	c.until[id], c.kind[id], c.weight[id], c.ebsOf[id] = end, k, weight, snaps
	for _, s := range snaps {
		c.until[s] = end
	}
	c.started[k]++
	n := 0
	for other, u := range c.until {
		if c.kind[other] == k && time.Now().Before(u) {
			n += c.weight[other]
		}
	}
	c.peak[k] = max(c.peak[k], n)
}

func (c *copyClock) running(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.until[id]
	return ok && time.Now().Before(u)
}

func (c *copyClock) releaseAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.until {
		c.until[id] = time.Now()
	}
}

func (c *copyClock) stats(k Kind) (peak, started int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak[k], c.started[k]
}

type clockRDS struct {
	rdsAPI
	c *copyClock
}

func (s clockRDS) CopyDBSnapshot(ctx context.Context, in *rds.CopyDBSnapshotInput, o ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error) {
	out, err := s.rdsAPI.CopyDBSnapshot(ctx, in, o...)
	if err == nil {
		s.c.start(aws.ToString(out.DBSnapshot.DBSnapshotIdentifier), KindRDSInstance, 1, nil)
		out.DBSnapshot.Status = aws.String("pending")
	}
	return out, err
}

func (s clockRDS) DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, o ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	out, err := s.rdsAPI.DescribeDBSnapshots(ctx, in, o...)
	if err == nil {
		for i := range out.DBSnapshots {
			if s.c.running(aws.ToString(out.DBSnapshots[i].DBSnapshotIdentifier)) {
				out.DBSnapshots[i].Status = aws.String("copying")
			}
		}
	}
	return out, err
}

func (s clockRDS) CopyDBClusterSnapshot(ctx context.Context, in *rds.CopyDBClusterSnapshotInput, o ...func(*rds.Options)) (*rds.CopyDBClusterSnapshotOutput, error) {
	out, err := s.rdsAPI.CopyDBClusterSnapshot(ctx, in, o...)
	if err == nil {
		s.c.start(aws.ToString(out.DBClusterSnapshot.DBClusterSnapshotIdentifier), KindRDSCluster, 1, nil)
		out.DBClusterSnapshot.Status = aws.String("copying")
	}
	return out, err
}

func (s clockRDS) DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, o ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error) {
	out, err := s.rdsAPI.DescribeDBClusterSnapshots(ctx, in, o...)
	if err == nil {
		for i := range out.DBClusterSnapshots {
			if s.c.running(aws.ToString(out.DBClusterSnapshots[i].DBClusterSnapshotIdentifier)) {
				out.DBClusterSnapshots[i].Status = aws.String("copying")
			}
		}
	}
	return out, err
}

type clockEC2 struct {
	ec2API
	c *copyClock
}

func (s clockEC2) CopyImage(ctx context.Context, in *ec2.CopyImageInput, o ...func(*ec2.Options)) (*ec2.CopyImageOutput, error) {
	out, err := s.ec2API.CopyImage(ctx, in, o...)
	if err != nil {
		return out, err
	}
	id := aws.ToString(out.ImageId)
	d, err := s.ec2API.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil || len(d.Images) != 1 {
		return out, fmt.Errorf("test clock: describe copied image %s: %v", id, err)
	}
	var snaps []string
	for _, bd := range d.Images[0].BlockDeviceMappings {
		if bd.Ebs != nil && bd.Ebs.SnapshotId != nil {
			snaps = append(snaps, *bd.Ebs.SnapshotId)
		}
	}
	s.c.start(id, KindAMI, max(len(snaps), 1), snaps)
	return out, nil
}

func (s clockEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	out, err := s.ec2API.DescribeImages(ctx, in, o...)
	if err == nil {
		for i := range out.Images {
			if s.c.running(aws.ToString(out.Images[i].ImageId)) {
				out.Images[i].State = ec2types.ImageStatePending
			}
		}
	}
	return out, err
}

// DescribeSnapshots answers the status filter itself, from the clock.
func (s clockEC2) DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, o ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error) {
	cp := *in
	var want []string
	cp.Filters = nil
	for _, f := range in.Filters {
		if aws.ToString(f.Name) == "status" {
			want = f.Values
			continue
		}
		cp.Filters = append(cp.Filters, f)
	}
	out, err := s.ec2API.DescribeSnapshots(ctx, &cp, o...)
	if err != nil {
		return out, err
	}
	var keep []ec2types.Snapshot
	for _, sn := range out.Snapshots {
		if s.c.running(aws.ToString(sn.SnapshotId)) {
			sn.State = ec2types.SnapshotStatePending
		}
		if want == nil || strings.Contains(strings.Join(want, ","), string(sn.State)) {
			keep = append(keep, sn)
		}
	}
	out.Snapshots = keep
	return out, nil
}

// clockClients are one invocation's clients, through env, with the DR
// region's copies run by the clock.
func clockClients(env *awsenv.Env, dr string, c *copyClock) *clients {
	cl := newClients(env)
	cl.waits = waits{MinDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
	newRDS, newEC2 := cl.newRDS, cl.newEC2
	cl.newRDS = func(r string) rdsAPI {
		if r == dr {
			return clockRDS{newRDS(r), c}
		}
		return newRDS(r)
	}
	cl.newEC2 = func(r string) ec2API {
		if r == dr {
			return clockEC2{newEC2(r), c}
		}
		return newEC2(r)
	}
	return cl
}

func openStore(t *testing.T, dir string) state.Store {
	t.Helper()
	s, err := state.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A copy that runs longer than an invocation: every step returns at once
// with the job in progress (no error), a retry of the tick takes no second
// snapshot, and the step after the copy finishes makes the point available.
func TestStepReturnsWhileTheCopyRunsAndFinishesItLater(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	w.runInstance("web")
	cfg := w.config("protect:\n  databases:\n    - { id: db1, every: 2h }\n  images:\n    - { name: web, instance: { tag: { Role: web } }, every: 2h }\n")
	clock := newCopyClock(0)
	store := openStore(t, t.TempDir())
	opts := BackupOptions{Now: func() time.Time { return t0 }, Store: store, Tick: "2026-03-01T08:00:00Z"}
	for i := range 3 {
		rep, err := step(w.ctx, clockClients(w.env, w.D, clock), cfg, opts)
		if err != nil {
			t.Fatalf("step %d while copying: %v", i, err)
		}
		for _, r := range rep.Results {
			if !r.InProgress || r.Phase == PhaseDone || r.Phase == PhaseFailed {
				t.Fatalf("step %d: %s: %+v", i, r.Resource, r)
			}
		}
	}
	jobs, err := Jobs(w.ctx, store, "wp")
	if err != nil || len(jobs) != 2 || jobs[0].Phase != PhaseCopying || jobs[0].Tick != opts.Tick {
		t.Fatalf("jobs while copying: %+v %v", jobs, err)
	}
	clock.releaseAll()
	for _, tick := range []string{opts.Tick, opts.Tick} { // the tick's step, then a late retry of it
		opts.Tick = tick
		rep, err := step(w.ctx, clockClients(w.env, w.D, clock), cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			if r.InProgress || r.Phase != PhaseDone {
				t.Fatalf("after the copy: %s: %+v", r.Resource, r)
			}
		}
	}
	if n, m := w.calls(w.P, "CreateDBSnapshot"), w.calls(w.P, "CreateImage"); n != 1 || m != 1 {
		t.Fatalf("one tick took %d DB snapshots and %d images", n, m)
	}
	for _, res := range []string{"db1", "web"} {
		if d := managed(w.list(cfg, w.D, res)); len(d) != 1 || !d[0].Available() {
			t.Fatalf("%s DR: %+v", res, d)
		}
	}
	// The next tick starts the next job.
	opts.Tick, opts.Now = "2026-03-01T10:00:00Z", func() time.Time { return t0.Add(2 * time.Hour) }
	rep, err := step(w.ctx, clockClients(w.env, w.D, clock), cfg, opts)
	if err != nil || rep.Results[0].Created == "" {
		t.Fatalf("next tick: %+v %v", rep, err)
	}
}

// 50 databases and 50 images, one tick, four invocations at once, each
// retried twice (Lambda's async retries), with throttling and 5xx: the
// copies in flight never exceed AWS's quotas, counted by the simulated AWS
// side, and each resource gets exactly one point and one copy.
func TestConcurrentStepsNeverExceedTheCopyQuotas(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	// 100 resources on a shared moto take minutes, not the usual two.
	var cancelWorld context.CancelFunc
	w.ctx, cancelWorld = context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelWorld()
	var b strings.Builder
	b.WriteString("protect:\n  databases:\n")
	n := testScale(50)
	for i := range n {
		w.createDB(fmt.Sprintf("db%02d", i), false)
		fmt.Fprintf(&b, "    - { id: db%02d, every: 2h }\n", i)
	}
	b.WriteString("  images:\n")
	for i := range n {
		w.runInstance(fmt.Sprintf("web%02d", i))
		fmt.Fprintf(&b, "    - { name: web%02d, instance: { tag: { Role: web%02d } }, every: 2h }\n", i, i)
	}
	cfg := w.config(b.String())
	w.proxy.AddRule(testenv.Rule{Throttle: 0.10, Fail500: 0.02})
	env := w.patientEnv()
	clock := newCopyClock(5 * time.Second)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(w.ctx, 4*time.Minute)
	defer cancel()

	var stepsMu sync.Mutex
	var steps []time.Duration
	invocation := func() (*BackupReport, error) {
		// A process of its own: own clients, own store handle.
		start := time.Now()
		defer func() {
			stepsMu.Lock()
			steps = append(steps, time.Since(start))
			stepsMu.Unlock()
		}()
		return step(ctx, clockClients(env, w.D, clock), cfg, BackupOptions{
			Now: func() time.Time { return t0 }, Store: openStore(t, dir), Tick: "tick-1", Parallelism: 16, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			delay := 200 * time.Millisecond
			for {
				var pending int
				for range 3 { // the invocation and its two retries
					rep, err := invocation()
					if err != nil {
						errs <- err
						return
					}
					pending = len(rep.Pending())
				}
				if pending == 0 {
					return
				}
				select {
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				case <-time.After(delay):
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rdsPeak, rdsStarted := clock.stats(KindRDSInstance)
	ebsPeak, ebsStarted := clock.stats(KindAMI)
	t.Logf("%d steps, durations %v", len(steps), steps)
	t.Logf("copies: RDS %d started, peak %d in flight; EBS %d started, peak %d in flight", rdsStarted, rdsPeak, ebsStarted, ebsPeak)
	if rdsPeak > rdsCopyQuota || ebsPeak > ebsCopyQuota {
		t.Fatalf("peak copies in flight RDS %d (quota %d), EBS %d (quota %d)", rdsPeak, rdsCopyQuota, ebsPeak, ebsCopyQuota)
	}
	if rdsStarted != n || ebsStarted != n {
		t.Fatalf("copies started: RDS %d, images %d; want %d each", rdsStarted, ebsStarted, n)
	}
	if c, i := w.calls(w.P, "CreateDBSnapshot"), w.calls(w.P, "CreateImage"); c != n || i != n {
		t.Fatalf("snapshots taken: %d DB, %d images; want %d each", c, i, n)
	}
	for i := range n {
		for _, res := range []string{fmt.Sprintf("db%02d", i), fmt.Sprintf("web%02d", i)} {
			p, d := managed(w.list(cfg, w.P, res)), managed(w.list(cfg, w.D, res))
			if len(p) != 1 || len(d) != 1 || !d[0].Available() || d[0].CopyOf != p[0].ID {
				t.Fatalf("%s: primary %v, DR %v", res, ids(p), ids(d))
			}
		}
	}
}

// testScale is n, or PILOTLIGHT_JOBS_N when set (to measure at other sizes).
func testScale(n int) int {
	if v, err := strconv.Atoi(os.Getenv("PILOTLIGHT_JOBS_N")); err == nil && v > 0 {
		return v
	}
	return n
}

// Lambda mode, scaled: a copy that runs for three hours of ticks every 30
// minutes, each invocation with a short deadline. Every invocation returns
// success well inside it, the snapshot is taken and copied once, and the
// point becomes available to failover when the copy ends.
func TestLambdaTicksDuringALongCopyAllSucceedAndTheCopyFinishesOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - { id: db1, every: 30m, keep: { primary: 2, dr: 2 } }\n")
	clock := newCopyClock(0) // runs until released: "three hours"
	dir := t.TempDir()
	invoke := func(i int) *BackupReport {
		t.Helper()
		now := t0.Add(time.Duration(i) * 30 * time.Minute)
		// The invocation's deadline, scaled (15 minutes as 10 seconds; a
		// step makes a few calls and never waits on the copy). It must
		// return success before the deadline, not be cut by it: the
		// behaviour, not a wall-clock figure, is what is asserted here.
		ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
		defer cancel()
		rep, err := step(ctx, clockClients(w.env, w.D, clock), cfg, BackupOptions{
			Now: func() time.Time { return now }, Store: openStore(t, dir), Tick: now.Format(time.RFC3339)})
		if err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("tick %d ran into its deadline instead of returning while the copy runs", i)
		}
		return rep
	}
	for i := range 6 {
		r := invoke(i).Results[0]
		if !r.InProgress || r.Phase != PhaseCopying {
			t.Fatalf("tick %d during the copy: %+v", i, r)
		}
	}
	if c, k := w.calls(w.P, "CreateDBSnapshot"), w.calls(w.D, "CopyDBSnapshot"); c != 1 || k != 1 {
		t.Fatalf("%d snapshots and %d copies during one long copy", c, k)
	}
	clock.releaseAll()
	p, err := NewestDR(w.ctx, w.direct, cfg, "db1")
	if err != nil || p.ID != "wp-db1-20260301080000" {
		t.Fatalf("failover's point: %+v %v", p, err)
	}
	// The tick after the copy ends records that job done and, its
	// interval being due, starts the next.
	r := invoke(6).Results[0]
	if r.Finished != "wp-db1-20260301080000" || r.Created != "wp-db1-20260301110000" || r.Error != "" {
		t.Fatalf("tick after the copy: %+v", r)
	}
}
