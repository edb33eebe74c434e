package runbook

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// The crash test runs a real child process: this test binary re-executed
// with helperEnv set, which TestMain turns into helperMain. The child takes
// the stack's lock and runs crashGraph; the step named by blockEnv prints
// "reached" and blocks, and the test SIGKILLs it there. Nothing in product
// code knows about crashes.
const (
	helperEnv      = "PILOTLIGHT_RUNBOOK_HELPER"
	stateEnv       = "PILOTLIGHT_HELPER_STATE"
	workEnv        = "PILOTLIGHT_HELPER_WORK"
	blockEnv       = "PILOTLIGHT_HELPER_BLOCK"       // step id
	blockPointEnv  = "PILOTLIGHT_HELPER_BLOCK_POINT" // before or after its side effect
	forceUnlockEnv = "PILOTLIGHT_HELPER_FORCE_UNLOCK"
)

// crashGraph is a diamond with a tail: a -> (b, c) -> d -> e.
var crashSteps = []struct {
	id    string
	needs []string
}{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"a"}}, {"d", []string{"b", "c"}}, {"e", []string{"d"}}}

const crashFinal = "e(d(b(a))(c(a)))"

// crashGraph's steps have one side effect each: a line in effects.log,
// appended with one write, so it happens whole or not at all. As real
// steps find their resource by name before creating it, each looks for its
// own line first, so a re-run after a crash makes no second one. The
// look-up is of the effect itself, as a real step's is of the resource it
// creates: a marker file written after the line (as this test once did)
// left a window in which the crash kills a sibling step running alongside
// the blocked one (b beside c) with its line written but not its marker,
// and the re-run, rightly re-running the unfinished sibling, wrote a
// second line.
func crashGraph(work, block, point string) (*Graph, error) {
	var steps []Step
	for _, cs := range crashSteps {
		id, needs := cs.id, cs.needs
		steps = append(steps, Step{ID: id, Needs: needs, Plan: "append " + id, Run: func(ctx context.Context, rc *RunContext) (Outputs, error) {
			if id == block && point == "before" {
				blockHere(id)
			}
			if id == block && point == "stoppable" {
				// A long wait that honours cancellation at its safe point.
				fmt.Printf("reached %s\n", id)
				select {
				case <-rc.Stopping():
					return nil, ErrStopped
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			effects := filepath.Join(work, "effects.log")
			made, err := os.ReadFile(effects)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			if !slices.Contains(strings.Fields(string(made)), id) {
				f, err := os.OpenFile(effects, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
				if err != nil {
					return nil, err
				}
				_, err = f.Write([]byte(id + "\n"))
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return nil, err
				}
			}
			if id == block && point == "after" {
				blockHere(id)
			}
			v := id
			for _, n := range needs {
				v += "(" + rc.Output(n, "v") + ")"
			}
			return Outputs{"v": v}, nil
		}})
	}
	return New(steps...)
}

// blockHere tells the test where the child is and waits to be killed.
func blockHere(id string) {
	fmt.Printf("reached %s\n", id)
	time.Sleep(time.Hour)
}

// helperMain is the child: exit 0 done, 1 failed, 3 lock held.
func helperMain() int {
	// As the CLI does: the first SIGTERM or Ctrl-C cancels the run.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var env *awsenv.Env
	path := os.Getenv(stateEnv)
	if strings.HasPrefix(path, "s3://") {
		var err error
		// The endpoint and credentials come from testenv.ChildEnv.
		if env, err = awsenv.Load(ctx, awsenv.Options{MaxBackoff: 50 * time.Millisecond, StandardRetry: true}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	store, err := state.Open(ctx, stateConfig(path), env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if id := os.Getenv(forceUnlockEnv); id != "" {
		if err := store.ForceUnlock(ctx, "wordpress", id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	release, err := store.Lock(ctx, "wordpress", "failover")
	var le *state.LockedError
	if errors.As(err, &le) {
		fmt.Fprintln(os.Stderr, err)
		return 3
	} else if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer release(context.WithoutCancel(ctx))
	g, err := crashGraph(os.Getenv(workEnv), os.Getenv(blockEnv), os.Getenv(blockPointEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	j, err := (&Runner{Store: store}).Run(ctx, g, "wordpress", "failover", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("done %s\n", j.ID)
	return 0
}

func child(stateDir, work string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1", stateEnv+"="+stateDir, workEnv+"="+work)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestCrashEveryStep kills the child (SIGKILL) while each step in turn is
// running, before and after the step's side effect, then runs it again:
// the re-run resumes the same journal, and every side effect happened
// exactly once. The local backend takes every case; the S3+DynamoDB one,
// slower on a one-core moto, the diamond's join and one of its sides.
func TestCrashEveryStep(t *testing.T) {
	type tc struct{ backend, id, point string }
	var cases []tc
	for _, cs := range crashSteps {
		for _, point := range []string{"before", "after"} {
			cases = append(cases, tc{"local", cs.id, point})
		}
	}
	cases = append(cases, tc{"s3+dynamodb", "b", "after"}, tc{"s3+dynamodb", "d", "before"})
	for _, c := range cases {
		t.Run(c.backend+"/"+c.id+"/"+c.point, func(t *testing.T) {
			t.Parallel()
			stateDir, work := filepath.Join(t.TempDir(), ".pilotlight"), t.TempDir()
			var store state.Store
			var awsEnv []string // the child's endpoint and credentials, for the remote store
			if c.backend == "local" {
				s, err := state.OpenDir(stateDir)
				if err != nil {
					t.Fatal(err)
				}
				store = s
			} else {
				r := newRemote(t)
				stateDir, store = r.path, r.store
				awsEnv = testenv.ChildEnv(r.url)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			// 1. Run until the step blocks, then kill -9.
			cmd := child(stateDir, work, slices.Concat(awsEnv, []string{blockEnv + "=" + c.id, blockPointEnv + "=" + c.point})...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reached := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "reached ") {
						reached <- strings.TrimPrefix(sc.Text(), "reached ")
						return
					}
				}
				close(reached)
			}()
			select {
			case got := <-reached:
				if got != c.id {
					t.Fatalf("child blocked in %q, want %q (stderr: %s)", got, c.id, stderr.String())
				}
			case <-ctx.Done():
				cmd.Process.Kill()
				t.Fatalf("child never reached %s: %s", c.id, stderr.String())
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			crashed, err := Unfinished(ctx, store, "wordpress", "failover")
			if err != nil || crashed == nil {
				t.Fatalf("no unfinished journal after the crash: %v", err)
			}
			if s, _ := crashed.Step(c.id); s.Phase != PhaseRunning || crashed.Phase != PhaseRunning {
				t.Fatalf("journal at the crash: %s, %s", crashed.Phase, phases(crashed))
			}

			// 2. A plain re-run is refused: the dead child's lock is held,
			// and the error says it was left by a crash and how to take it over.
			out, err := child(stateDir, work, awsEnv...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("re-run with the stale lock: %v: %s", err, out)
			}
			holder, err := store.Holder(ctx, "wordpress")
			if err != nil || holder == nil {
				t.Fatalf("holder: %v", err)
			}
			for _, want := range []string{"--force-unlock " + holder.ID, "left by a crash", fmt.Sprint(holder.PID)} {
				if !strings.Contains(string(out), want) {
					t.Errorf("lock error lacks %q: %s", want, out)
				}
			}

			// 3. Re-run with --force-unlock: it resumes and completes.
			out, err = child(stateDir, work, slices.Concat(awsEnv, []string{forceUnlockEnv + "=" + holder.ID})...).CombinedOutput()
			if err != nil {
				t.Fatalf("re-run: %v: %s", err, out)
			}
			j, err := Load(ctx, store, crashed.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "done "+crashed.ID) || j.Phase != PhaseDone || j.Resumes != 1 {
				t.Fatalf("re-run did not resume %s: %s %s: %s", crashed.ID, j.Phase, phases(j), out)
			}
			if e, _ := j.Step("e"); e.Outputs["v"] != crashFinal {
				t.Fatalf("outputs across the crash: %q", e.Outputs["v"])
			}
			if s, _ := j.Step(c.id); s.Attempts != 2 {
				t.Errorf("step %s attempts %d, want 2", c.id, s.Attempts)
			}
			if a, _ := j.Step("a"); c.id != "a" && a.Attempts != 1 {
				t.Errorf("step a, done before the crash, ran again")
			}

			// 4. Every side effect exactly once.
			log, err := os.ReadFile(filepath.Join(work, "effects.log"))
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, l := range strings.Fields(string(log)) {
				count[l]++
			}
			for _, s := range crashSteps {
				if count[s.id] != 1 {
					t.Errorf("side effect of %s happened %d times:\n%s", s.id, count[s.id], log)
				}
			}
			if h, _ := store.Holder(ctx, "wordpress"); h != nil {
				t.Errorf("lock still held after the re-run: %+v", h)
			}
		})
	}
}

// TestSIGTERM stops a real child while a step waits: no new step starts,
// the running one leaves at its safe point, the journal says cancelled, the
// child exits non-zero and gives the lock back; a re-run finishes the job.
func TestSIGTERM(t *testing.T) {
	stateDir, work := filepath.Join(t.TempDir(), ".pilotlight"), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := child(stateDir, work, blockEnv+"=b", blockPointEnv+"=stoppable")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	reached := make(chan bool, 1)
	go func() { reached <- sc.Scan() && sc.Text() == "reached b" }()
	select {
	case ok := <-reached:
		if !ok {
			t.Fatalf("child did not reach b: %s", stderr.String())
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatal("child never reached b")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "cancelled") {
		t.Fatalf("child after SIGTERM: %v: %s", err, stderr.String())
	}
	store, err := state.OpenDir(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Unfinished(ctx, store, "wordpress", "failover")
	if err != nil || j == nil || j.Phase != PhaseCancelled {
		t.Fatalf("journal after SIGTERM: %+v %v", j, err)
	}
	if b, _ := j.Step("b"); b.Phase != PhaseCancelled {
		t.Fatalf("b: %s", phases(j))
	}
	for _, id := range []string{"d", "e"} {
		if s, _ := j.Step(id); s.Phase != PhasePending {
			t.Fatalf("%s started after the stop: %s", id, phases(j))
		}
	}
	if h, _ := store.Holder(ctx, "wordpress"); h != nil {
		t.Fatalf("lock kept after a clean stop: %+v", h)
	}
	out, err := child(stateDir, work).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "done "+j.ID) {
		t.Fatalf("re-run: %v: %s", err, out)
	}
}
