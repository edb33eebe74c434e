package demo_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/demo"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// awsTimeScale keeps the demo on AWS's clock short in CI: an AWS minute
// lasts 200 ms (a 20-minute failover takes 4 seconds): slow enough that
// the emulator's own answers, which count as AWS time at this scale, do
// not reorder the failover's steps on a loaded machine (at 1,200 a full
// `go test ./...` beside a benchmark once launched the app after the
// restored database was available), fast enough for CI.
const awsTimeScale = "300"

var rtoLine = regexp.MustCompile(`(?m)^RTO at AWS durations: (\S+) \(critical path (\S+); the seed's manual sequence (\S+)\)$`)

// TestDemoOnAWSClock runs `pilotlight demo --aws-time=FACTOR` twice in a
// row: first as a user does (its own moto_server), then on an emulator the
// user runs, whose cleanup must also wait out AWS's deletions. Both pass,
// and the closing figures are AWS's, not moto's: the failover cannot beat
// the database restore, and the DR copy is at least as old as its snapshot
// and cross-region copy took.
func TestDemoOnAWSClock(t *testing.T) {
	moto := testenv.Shared(t)
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Setenv("AWS_ENDPOINT_URL", "")
	} else {
		t.Parallel()
	}
	d := emulator.DefaultDurations()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctxTimeout(t), []string{"demo", "--aws-time=" + awsTimeScale, "--dir", t.TempDir(), "--objects", "20"}, &stdout, &stderr)
	out := stdout.String()
	if code != cli.ExitOK || !strings.Contains(out, "demo PASSED") {
		t.Fatalf("pilotlight demo --aws-time exited %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	m := rtoLine.FindStringSubmatch(out)
	if m == nil || !strings.HasSuffix(strings.TrimSpace(out), m[0]) {
		t.Fatalf("the demo does not end with the RTO line:\n%s", out)
	}
	rto, path, seed := mustDuration(t, m[1]), mustDuration(t, m[2]), mustDuration(t, m[3])
	if rto < d.DBRestore.For(20) {
		t.Errorf("RTO %v at AWS durations is shorter than the 20 GB restore alone (%v)", rto, d.DBRestore.For(20))
	}
	if path > rto+time.Minute {
		t.Errorf("critical path %v longer than the RTO %v", path, rto)
	}
	if want := emulator.SeedTotal(d.SeedSequence(20)).Round(time.Second); seed != want {
		t.Errorf("seed's manual sequence %v, want %v from the table", seed, want)
	}
	rpo := regexp.MustCompile(`(?m)^  RPO wordpress-db\s+(\S+)$`).FindStringSubmatch(out)
	if rpo == nil {
		t.Fatalf("no RPO of the database at AWS durations:\n%s", out)
	}
	if age, min := mustDuration(t, rpo[1]), d.DBSnapshot.For(20)+d.DBSnapshotCopy.For(20); age < min {
		t.Errorf("database RPO %v at AWS durations: younger than its snapshot and copy took (%v)", age, min)
	}

	var progress bytes.Buffer
	res, err := demo.Run(ctxTimeout(t), demo.Options{Endpoint: moto.URL, Dir: t.TempDir(), Objects: 20, Progress: &progress, AWSTime: 300})
	if err != nil || !res.Passed || res.AWSTime == nil || len(res.Leftovers) != 0 {
		t.Fatalf("second run, on an emulator: %v (%+v)\n%s", err, res, progress.String())
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
