package recovery_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestDrillReportComparesThePrediction: `drill` predicts its RTO before it
// starts, as `plan drill` would, and its JSON and HTML reports set the
// prediction against what it measured. On moto every step is instant, so
// the error says nothing here (the AWS clock test reads it); what is
// checked is that the comparison is made and stored.
func TestDrillReportComparesThePrediction(t *testing.T) {
	acct := testenv.Shared(t).NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	cfg := recovery.TestConfig(t, "cn-north-1", "cn-northwest-1", spec.DNSFailoverRecords)
	recovery.SeedProduction(t, env, cfg)
	if code, out, errOut := runCLI(t, acct.URL, "prepare", "--config", cfg.File); code != 0 {
		t.Fatalf("prepare: %s %s", out, errOut)
	}
	code, out, errOut := runCLI(t, acct.URL, "drill", "--config", cfg.File, "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("drill: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Report recovery.Report `json:"report"`
		HTML   string          `json:"html_report"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := res.Report.Prediction
	if c == nil {
		t.Fatalf("the drill report has no prediction: %s", out)
	}
	// 20 GB from the table: the restore alone is over 12 minutes.
	if c.PredictedSeconds < 12*60 || c.MeasuredSeconds != res.Report.RTOSeconds || c.ErrorPercent == nil || len(c.Steps) == 0 ||
		!strings.Contains(c.Basis, "20 GB") || len(c.PredictedCriticalPath) == 0 {
		t.Fatalf("comparison: %+v", c)
	}
	if len(res.Report.CriticalPath) == 0 || len(c.MeasuredCriticalPath) == 0 {
		t.Fatalf("no measured critical path: %+v", res.Report)
	}
	page, err := os.ReadFile(res.HTML)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="predicted-rto"`, `id="prediction"`, `id="critical-path"`, `class="step critical"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("HTML report lacks %s", want)
		}
	}
}
