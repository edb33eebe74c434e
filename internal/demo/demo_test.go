package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/demo"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestDemoCommand runs the README's first command in-process, as a user
// on a fresh machine does: no AWS_ENDPOINT_URL, so the demo starts its own
// moto_server. It must exit 0 and print the HTML report's path.
func TestDemoCommand(t *testing.T) {
	testenv.Shared(t) // skips where moto_server is missing, as every moto test
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Setenv("AWS_ENDPOINT_URL", "")
	} else {
		t.Parallel()
	}
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	code := cli.Run(ctxTimeout(t), []string{"demo", "--dir", dir, "--objects", "40"}, &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("pilotlight demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "demo PASSED") {
		t.Fatalf("no verdict:\n%s", out)
	}
	m := regexp.MustCompile(`report: (\S+\.html)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no report path printed:\n%s", out)
	}
	page, err := os.ReadFile(m[1])
	if err != nil || !bytes.Contains(page, []byte("failover")) {
		t.Fatalf("report %s: %v", m[1], err)
	}
	for _, want := range []string{"$ pilotlight prepare", "$ pilotlight replicate sync", "$ pilotlight backup", "$ pilotlight failover", "$ pilotlight teardown", "stop moto_server"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	demoRanTheVerbs(t, dir)
	for _, want := range []string{"RTO ", "RPO wordpress-db", "PASS failover and checks called nothing in cn-northwest-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

// TestDemoTwiceOnAnEmulator is the demo on an emulator the user runs
// (AWS_ENDPOINT_URL): twice in a row, each run passing and leaving nothing
// behind but what moto cannot delete.
func TestDemoTwiceOnAnEmulator(t *testing.T) {
	moto := testenv.Shared(t)
	t.Parallel()
	for run := 1; run <= 2; run++ {
		var progress bytes.Buffer
		res, err := demo.Run(ctxTimeout(t), demo.Options{Endpoint: moto.URL, Dir: t.TempDir(), Objects: 40, Progress: &progress})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, progress.String())
		}
		if !res.Passed {
			t.Fatalf("run %d did not pass:\n%s", run, progress.String())
		}
		if res.StartedMoto || res.Account == "" {
			t.Fatalf("run %d: on an external emulator the demo must start nothing and work in its own account: %+v", run, res)
		}
		if len(res.Leftovers) != 0 {
			t.Fatalf("run %d left %v", run, res.Leftovers)
		}
		deleted := strings.Join(res.Cleanup.Deleted, "\n")
		if !strings.HasSuffix(res.Production.Bucket, "-"+res.Account) {
			t.Errorf("run %d: bucket %s does not carry the run's account %s", run, res.Production.Bucket, res.Account)
		}
		for _, want := range []string{"vpc ", "DB instance wordpress-db", "bucket wordpress-media-prod-", "bucket wordpress-media-dr-", "hosted zone", "role wordpress-s3-replication", "DB snapshot wordpress-wordpress-db-", "image ami-"} {
			if !strings.Contains(deleted, want) {
				t.Errorf("run %d: cleanup did not delete %q; deleted:\n%s", run, want, deleted)
			}
		}
		if res.Report == nil || res.Report.RTOSeconds <= 0 || len(res.Report.Points) != 2 || res.ReportHTML == "" {
			t.Fatalf("run %d: report %+v at %q", run, res.Report, res.ReportHTML)
		}
	}
}

// TestDemoFailsAndStillCleansUp makes prepare fail in the DR region: the
// demo must exit 1, skip the rest of the story, and still leave nothing.
func TestDemoFailsAndStillCleansUp(t *testing.T) {
	moto := testenv.Shared(t)
	p, err := testenv.NewProxy(moto.URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.AddRule(testenv.Rule{Match: testenv.Match{Region: "cn-north-1", Service: "ec2", Action: "CreateVpc"}, Fail500: 1})
	t.Parallel()
	var stdout, stderr bytes.Buffer
	// As AWS_ENDPOINT_URL would, without touching the process environment.
	app := &cli.App{Stdout: &stdout, Stderr: &stderr, EnvOptions: &awsenv.Options{Endpoint: p.URL}}
	code := cli.RunApp(ctxTimeout(t), app, []string{"demo", "--dir", t.TempDir(), "--objects", "10", "-o", "json"})
	if code != cli.ExitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, cli.ExitFailed, stderr.String())
	}
	var res demo.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("--output json: %v\n%s", err, stdout.String())
	}
	if res.Passed {
		t.Fatal("passed although prepare failed")
	}
	skipped := map[string]bool{}
	for _, s := range res.Steps {
		skipped[s.Name] = s.Skipped
	}
	if !skipped["failover to cn-north-1"] || skipped["clean up production and the recovery points"] {
		t.Fatalf("steps after the failure: %+v", res.Steps)
	}
	if len(res.Leftovers) != 0 {
		t.Fatalf("left %v", res.Leftovers)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(line, "error: ") {
			continue
		}
		if !json.Valid([]byte(line)) {
			t.Fatalf("progress is not JSON lines with -o json: %q", line)
		}
	}
}

// TestDemoDryRun changes nothing and starts nothing.
func TestDemoDryRun(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"demo", "--dry-run"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "pilotlight failover --yes") {
		t.Fatalf("plan: %s", stdout.String())
	}
}

// demoRanTheVerbs: the demo ran the verbs' own operations, so its state
// holds their records, as after the commands themselves, and the
// failover's report renders as HTML.
func demoRanTheVerbs(t *testing.T, dir string) {
	t.Helper()
	cfg := dir + "/pilotlight.yaml"
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"runs", "--config", cfg, "-o", "json", "--limit", "0"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("runs: %d %s", code, stderr.String())
	}
	var runs struct {
		Runs []struct {
			ID    string `json:"id"`
			Kind  string `json:"kind"`
			Phase string `json:"phase"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &runs); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	failover := ""
	for _, r := range runs.Runs {
		kinds[r.Kind] = r.Phase
		if r.Kind == "failover" {
			failover = r.ID
		}
	}
	for _, k := range []string{"prepare", "replicate-setup", "replicate-sync", "replicate-verify", "backup", "failover", "teardown"} {
		if kinds[k] == "" {
			t.Errorf("the demo's state has no %s record: %v", k, kinds)
		}
	}
	if kinds["failover"] != "Completed" {
		t.Errorf("failover recorded as %q", kinds["failover"])
	}
	stdout.Reset()
	if code := cli.Run(context.Background(), []string{"runs", "--config", cfg, failover, "-o", "json"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("runs %s: %d %s", failover, code, stderr.String())
	}
	var detail struct {
		ID        string `json:"id"`
		Operation struct {
			Report string `json:"report"`
		} `json:"operation"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &detail); err != nil || detail.Operation.Report == "" {
		t.Fatalf("the failover names no report: %v %s", err, stdout.String())
	}
	html := dir + "/failover.html"
	if code := cli.Run(context.Background(), []string{"reports", "--config", cfg, detail.ID, "--html", html}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("reports --html: %d %s", code, stderr.String())
	}
	if page, err := os.ReadFile(html); err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Fatalf("failover HTML report: %v", err)
	}
}

// TestDemoOnAWSBackupEngine is the acceptance of #18 for the China pair:
// DescribeSourceRegions says the DR region cannot copy DB snapshots from
// the primary, so auto picks aws-backup; prepare makes the vaults and the
// role, backup copies through the (simulated: moto has no jobs) AWS
// Backup jobs, and the failover restores from the DR recovery point.
func TestDemoOnAWSBackupEngine(t *testing.T) {
	moto := testenv.Shared(t)
	t.Parallel()
	var progress bytes.Buffer
	res, err := demo.Run(ctxTimeout(t), demo.Options{Endpoint: moto.URL, Dir: t.TempDir(), Objects: 20, Progress: &progress, Engine: "auto"})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if !res.Passed {
		t.Fatalf("did not pass:\n%s", progress.String())
	}
	passed := map[string]bool{}
	for _, c := range res.Checks {
		passed[c.Name] = c.Pass
	}
	for _, want := range []string{"database wordpress-db copies with AWS Backup", "the DR copy of wordpress-db is a recovery point of the DR vault"} {
		if !passed[want] {
			t.Errorf("check %q missing or failed: %v", want, res.Checks)
		}
	}
	// The failover restored from the copy job's recovery point in the DR vault.
	if !regexp.MustCompile(`restored from the newest DR copy: \S+ from awsbackup-copyjob-`).MatchString(progress.String()) {
		t.Errorf("the failover did not restore from the DR recovery point:\n%s", progress.String())
	}
	if len(res.Leftovers) != 0 {
		t.Fatalf("left %v", res.Leftovers)
	}
}

func TestDemoRefusesAnUnknownEngine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"demo", "--engine", "backup", "--dir", t.TempDir()}, &stdout, &stderr)
	if code != cli.ExitUsage || !strings.Contains(stderr.String(), "want snapshot-copy, aws-backup or auto") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming the engines", code, stderr.String())
	}
}
