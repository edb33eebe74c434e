package recovery_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// A drill whose newest DR copy is older than the target RPO fails that
// check, says by how much, still tears down, and its HTML report renders.
func TestDrillFailsRPOAndSaysByHowMuch(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	cfg := recovery.TestConfig(t, "cn-north-1", "cn-northwest-1", spec.DNSFailoverRecords)
	recovery.SeedProduction(t, env, cfg)
	if code, out, errOut := runCLI(t, acct.URL, "prepare", "--config", cfg.File); code != 0 {
		t.Fatalf("prepare: %s %s", out, errOut)
	}
	before := recovery.Counts(t, env, cfg.DR.Region)
	// moto cannot age a snapshot: the point's time is its pilotlight:created
	// tag, moved back as if backups had stopped 6 hours ago.
	ctx := context.Background()
	p, err := points.NewestDR(ctx, env, cfg, "shop-db")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-6 * time.Hour).UTC().Format(time.RFC3339)
	if _, err := rds.NewFromConfig(env.For(cfg.DR.Region)).AddTagsToResource(ctx, &rds.AddTagsToResourceInput{
		ResourceName: aws.String(p.ARN), Tags: []rdstypes.Tag{{Key: aws.String(tags.Created), Value: aws.String(old)}},
	}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, acct.URL, "drill", "--config", cfg.File, "--yes")
	if code != 1 {
		t.Fatalf("drill with a stale copy: exit %d\n%s\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`FAIL database RPO\s+newest DR copy is 6h0m\d+s old: 2h0m\d+s over the 4h0m0s target`).MatchString(out) {
		t.Fatalf("RPO check does not say by how much:\n%s", out)
	}
	if !strings.Contains(out, "PASS drill torn down") {
		t.Fatalf("drill not torn down after a failed check:\n%s", out)
	}
	if after := recovery.Counts(t, env, cfg.DR.Region); after["db"] != before["db"] || after["asg"] != 0 || after["cache"] != 0 {
		t.Fatalf("drill left resources: %v -> %v", before, after)
	}
	html := regexp.MustCompile(`HTML report: (\S+)`).FindStringSubmatch(out)
	if html == nil {
		t.Fatalf("no HTML report path:\n%s", out)
	}
	page, err := os.ReadFile(html[1])
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("chromium not installed: the report is checked as text only (.ci/run installs chromium)")
		checkSteps(t, string(page))
		return
	}
	dir := t.TempDir()
	dom, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+html[1]).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	checkSteps(t, string(dom))
	if !strings.Contains(string(dom), `id="verdict">FAILED`) {
		t.Fatal("rendered report does not say FAILED")
	}
}

func checkSteps(t *testing.T, dom string) {
	t.Helper()
	for _, s := range []string{recovery.StepPoints, recovery.StepNetwork, recovery.StepDatabase, recovery.StepCache,
		recovery.StepLoadBalancer, recovery.StepLaunchTemplate, recovery.StepApp, recovery.StepDNS} {
		if !strings.Contains(dom, ">"+s+"<") {
			t.Fatalf("report does not name step %s", s)
		}
	}
}
