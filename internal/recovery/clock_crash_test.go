package recovery_test

import (
	"bytes"
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverSurvivesKillOnAWSClock kills a real failover process while
// its restored database is still `creating` on AWS's clock (no endpoint
// yet), then resumes it: the resumed run must find that instance, wait it
// out and finish with exactly one of everything. The processes poll with
// the product's own policy, in real time.
func TestFailoverSurvivesKillOnAWSClock(t *testing.T) {
	t.Parallel()
	acct := testenv.Shared(t).NewAccount(t)
	proxy, env, cfg := preparedBehindProxy(t, acct.URL)
	k := proxy.EnableClock(emulator.ClockOptions{Minute: 50 * time.Millisecond})
	// The first DescribeDBInstances looks for an earlier restore; the
	// second is the first poll of the one just asked for.
	hold := proxy.HoldNth(testenv.Match{Region: cfg.DR.Region, Action: "DescribeDBInstances"}, 2)
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
		t.Fatalf("failover never polled its restore:\n%s", firstErr.String())
	}
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	dbs, err := rds.NewFromConfig(env.For(cfg.DR.Region)).DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{})
	if err != nil || len(dbs.DBInstances) != 1 || aws.ToString(dbs.DBInstances[0].DBInstanceStatus) != "creating" || dbs.DBInstances[0].Endpoint != nil {
		t.Fatalf("at the kill the restore should be creating, without endpoint: %+v %v", dbs, err)
	}
	hold.Release()

	var out, errOut bytes.Buffer
	again := child(proxy.URL, "failover", "--yes", "--config", cfg.File)
	again.Stdout, again.Stderr = &out, &errOut
	_ = again.Run()
	id := lockIDRe.FindStringSubmatch(errOut.String())
	if id == nil {
		t.Fatalf("re-run over the dead process's lock does not say how to take it over:\n%s", errOut.String())
	}
	out.Reset()
	errOut.Reset()
	resume := child(proxy.URL, "failover", "--yes", "--config", cfg.File, "--force-unlock", id[1])
	resume.Stdout, resume.Stderr = &out, &errOut
	start := time.Now()
	if err := resume.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); ok {
			t.Fatalf("resumed failover on AWS's clock: %v\n%s\n%s", err, out.String(), errOut.String())
		}
		t.Fatal(err)
	}
	t.Logf("resumed failover took %v real (%v at AWS durations, polling in real time)", time.Since(start).Round(time.Millisecond), k.AWS(time.Since(start)).Round(time.Minute))
	got := recovery.Counts(t, env, cfg.DR.Region)
	for kind, n := range map[string]int{"db": 1, "cache": 1, "lb": 1, "tg": 1, "asg": 1, "lt": 1, "nat": 1} {
		if got[kind] != n {
			t.Fatalf("after a kill while the restore was creating and a resume: %v", got)
		}
	}
}
