package recovery_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func init() {
	recovery.SetChildMain(func(args []string) int {
		// As cli.Main does: the first SIGINT or SIGTERM cancels the run.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return cli.Run(ctx, args, os.Stdout, os.Stderr)
	})
}

// child runs `pilotlight args...` as a real process against endpoint.
func child(endpoint string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testenv.ChildEnv(endpoint)...)
	cmd.Env = append(cmd.Env, "PILOTLIGHT_CHILD_ARGS="+strings.Join(args, "\x1f"))
	return cmd
}

var lockIDRe = regexp.MustCompile(`--force-unlock[ =]+(\S+)`)

// TestFailoverSurvivesKillAtEveryStep kills a real failover process while
// the fault proxy holds a chosen AWS call of each step, then runs failover
// again (taking over the dead process's lock, as an operator would) and
// checks that it finishes with exactly the resources an uninterrupted run
// makes. Each step is cut twice where it matters: before its create call
// reaches AWS, and after (while it waits), which forces a re-attach.
func TestFailoverSurvivesKillAtEveryStep(t *testing.T) {
	moto := testenv.Shared(t)
	cuts := []struct {
		step  string
		match testenv.Match
		nth   int
	}{
		{recovery.StepPoints, testenv.Match{Service: "rds", Action: "DescribeDBSnapshots"}, 1},
		{recovery.StepNetwork, testenv.Match{Action: "DescribeVpcs"}, 1},
		{recovery.StepDatabase, testenv.Match{Action: "RestoreDBInstanceFromDBSnapshot"}, 1},
		{recovery.StepDatabase, testenv.Match{Action: "DescribeDBInstances"}, 2},
		{recovery.StepCache, testenv.Match{Action: "CreateReplicationGroup"}, 1},
		{recovery.StepCache, testenv.Match{Action: "DescribeReplicationGroups"}, 2},
		{recovery.StepLoadBalancer, testenv.Match{Action: "CreateLoadBalancer"}, 1},
		{recovery.StepLoadBalancer, testenv.Match{Action: "CreateListener"}, 1},
		{recovery.StepLaunchTemplate, testenv.Match{Action: "CreateLaunchTemplate"}, 1},
		{recovery.StepEgress, testenv.Match{Action: "CreateNatGateway"}, 1},
		{recovery.StepEgress, testenv.Match{Action: "CreateRoute"}, 1},
		{recovery.StepApp, testenv.Match{Action: "CreateAutoScalingGroup"}, 1},
		{recovery.StepApp, testenv.Match{Action: "DescribeTargetHealth"}, 1},
		{recovery.StepDNS, testenv.Match{Action: "ChangeResourceRecordSets"}, 1},
		{recovery.StepDNS, testenv.Match{Action: "GetChange"}, 1},
	}
	want := map[string]int{"db": 1, "cache": 1, "lb": 1, "tg": 1, "asg": 1, "lt": 1, "vpc": 1, "nat": 1}
	for _, cut := range cuts {
		t.Run(cut.step+"/"+cut.match.Action, func(t *testing.T) {
			t.Parallel()
			acct := moto.NewAccount(t)
			proxy, env, cfg := preparedBehindProxy(t, acct.URL)
			m := cut.match
			m.Region = cfg.DR.Region
			if m.Action == "ChangeResourceRecordSets" || m.Action == "GetChange" {
				m.Region = "" // Route 53 is global: its calls carry its home region
			}
			hold := proxy.HoldNth(m, cut.nth)

			first := child(proxy.URL, "failover", "--yes", "--config", cfg.File)
			var firstErr bytes.Buffer
			first.Stderr = &firstErr
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-hold.Reached():
			case <-time.After(90 * time.Second):
				_ = first.Process.Kill()
				t.Fatalf("step %s never made %s:\n%s", cut.step, cut.match.Action, firstErr.String())
			}
			_ = first.Process.Signal(syscall.SIGKILL)
			_ = first.Wait()
			hold.Release()

			// The dead process still holds the stack's lock: a plain re-run
			// must refuse, naming it; the operator takes it over.
			var out, errOut bytes.Buffer
			again := child(proxy.URL, "failover", "--yes", "--config", cfg.File)
			again.Stdout, again.Stderr = &out, &errOut
			err := again.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitLockHeld {
				t.Fatalf("re-run over a dead process's lock: %v\n%s", err, errOut.String())
			}
			id := lockIDRe.FindStringSubmatch(errOut.String())
			if id == nil {
				t.Fatalf("lock error does not say how to take it over:\n%s", errOut.String())
			}
			out.Reset()
			errOut.Reset()
			resume := child(proxy.URL, "failover", "--yes", "--config", cfg.File, "--force-unlock", id[1])
			resume.Stdout, resume.Stderr = &out, &errOut
			if err := resume.Run(); err != nil {
				t.Fatalf("resumed failover: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			got := recovery.Counts(t, env, cfg.DR.Region)
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("after a kill in %s and a resume: %v, want %v", cut.step, got, want)
				}
			}
		})
	}
}

// preparedBehindProxy is the crash tests' world: a fault proxy in front of
// an account, a production stack in us-east-1 and prepare done in
// us-west-2.
func preparedBehindProxy(t *testing.T, account string) (*testenv.Proxy, *awsenv.Env, *spec.Config) {
	t.Helper()
	proxy, err := testenv.NewProxy(account, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := testenv.AWS(t, proxy.URL)
	cfg := recovery.TestConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	recovery.SeedProduction(t, env, cfg)
	if _, err := recovery.Prepare(context.Background(), cfg, env); err != nil {
		t.Fatal(err)
	}
	return proxy, env, cfg
}
