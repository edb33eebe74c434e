package recovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func runCLI(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &cli.App{Stdout: &out, Stderr: &errb, EnvOptions: testenv.Options(endpoint)}
	code := cli.RunApp(context.Background(), app, args)
	return code, out.String(), errb.String()
}

// The static-stability warning comes before anything is done: `plan
// failover` in upsert mode with Route 53's home as primary says so, names
// the control plane, and changes nothing.
func TestPlanWarnsWhenDNSNeedsThePrimary(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	cfg := recovery.TestConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSUpsert)
	recovery.SeedProduction(t, env, cfg)
	before := recovery.Counts(t, env, cfg.DR.Region)
	code, out, errOut := runCLI(t, acct.URL, "plan", "failover", "--config", cfg.File)
	if code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "Route 53's control plane") || !strings.Contains(out, "cn-northwest-1") {
		t.Fatalf("no static-stability warning:\n%s", out)
	}
	for _, step := range []string{"points", "database", "cache", "load-balancer", "launch-template", "app", "dns"} {
		if !strings.Contains(out, step) {
			t.Fatalf("plan lacks step %s:\n%s", step, out)
		}
	}
	// No drill yet: the prediction comes from the duration table.
	if !strings.Contains(out, "predicted RTO ") || !strings.Contains(out, "critical path network -> database -> launch-template -> app -> dns") || !strings.Contains(out, "no drill yet") {
		t.Fatalf("plan gives no predicted RTO from the table:\n%s", out)
	}
	if after := recovery.Counts(t, env, cfg.DR.Region); after["db"] != before["db"] || after["lb"] != before["lb"] {
		t.Fatalf("plan changed the DR region: %v -> %v", before, after)
	}
	// The reverse direction: Route 53 lives in the DR region, no warning.
	cfg2 := recovery.TestConfig(t, "cn-north-1", "cn-northwest-1", spec.DNSUpsert)
	acct2 := moto.NewAccount(t)
	recovery.SeedProduction(t, testenv.AWS(t, acct2.URL), cfg2)
	code, out, _ = runCLI(t, acct2.URL, "plan", "failover", "--config", cfg2.File, "-o", "json")
	var plan struct {
		Warnings  []string             `json:"warnings"`
		Points    []string             `json:"points"`
		Predicted *recovery.Prediction `json:"predicted_rto"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || len(plan.Warnings) != 0 || len(plan.Points) != 2 || plan.Predicted == nil || plan.Predicted.Seconds <= 0 {
		t.Fatalf("plan json: %d %s", code, out)
	}
}

// The whole recovery through the CLI: prepare twice, failover, drill with
// a report, teardown.
func TestCLIRecoveryVerbs(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	cfg := recovery.TestConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	recovery.SeedProduction(t, env, cfg)
	if code, out, errOut := runCLI(t, acct.URL, "prepare", "--config", cfg.File); code != 0 || !strings.Contains(out, "+ created vpc") {
		t.Fatalf("prepare: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, acct.URL, "prepare", "--config", cfg.File); code != 0 || !strings.Contains(out, "no changes") {
		t.Fatalf("second prepare: %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, acct.URL, "failover", "--config", cfg.File); code != cli.ExitUsage || !strings.Contains(errOut, "--yes") {
		t.Fatalf("failover without --yes and no terminal must refuse: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, acct.URL, "drill", "--config", cfg.File, "--yes")
	if code != 0 || !strings.Contains(out, "drill PASSED") || !strings.Contains(out, "HTML report:") {
		t.Fatalf("drill: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, acct.URL, "failover", "--config", cfg.File, "--yes")
	if code != 0 || !strings.Contains(out, "RTO") || !strings.Contains(out, "RPO shop-db") {
		t.Fatalf("failover: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, acct.URL, "reports", "--config", cfg.File); code != 0 || !strings.Contains(out, "drill") || !strings.Contains(out, "failover") {
		t.Fatalf("reports: %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, acct.URL, "teardown", "--config", cfg.File, "--yes", "--skip-final-snapshot")
	if code != 0 {
		t.Fatalf("teardown: %d\n%s\n%s", code, out, errOut)
	}
	if c := recovery.Counts(t, env, cfg.DR.Region); c["db"] != 0 || c["asg"] != 0 || c["cache"] != 0 {
		t.Fatalf("after teardown: %v", c)
	}
}
