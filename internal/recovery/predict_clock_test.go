package recovery

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awstime"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// reportMinute is the clock's scale here: slow enough that moto's own
// answers under load add little AWS time to the margins the test reads
// (minutes), fast enough that a drill lasts seconds.
const reportMinute = 200 * time.Millisecond

// TestDrillReportOnAWSClock: a drill on AWS's clock, predicted before it
// starts as `drill` does, reports its critical path and the prediction
// against what it measured. With a template that renders the endpoints in,
// the chain is the restore, the template waiting for its endpoint, the
// app and DNS: the JSON names them, the HTML timeline outlines them. With
// the hand-off the clock turns the app's targets healthy whatever the
// database does (docs/aws-time.md), so the app and DNS are done before
// the restore and the restore alone is the path.
func TestDrillReportOnAWSClock(t *testing.T) {
	for _, handoff := range []bool{false, true} {
		t.Run(map[bool]string{false: "rendered-in", true: "handoff"}[handoff], func(t *testing.T) {
			t.Parallel()
			proxy, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proxy.Close)
			env := testenv.AWS(t, proxy.URL)
			cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
			seedProduction(t, env, cfg)
			d := emulator.DefaultDurations()
			if handoff {
				useHandoffTemplate(t, cfg)
				// The restore must outlast the app by a margin load
				// cannot eat.
				d.DBRestore.Base = 30 * time.Minute
			} else {
				// The app after the endpoint must outlast the rest of the
				// restore by a margin load cannot eat: 5 min of boot
				// against the restore's last 2.5 min.
				d.InstanceBoot = 5 * time.Minute
			}
			k := proxy.EnableClock(emulator.ClockOptions{Minute: reportMinute, Durations: &d})
			wait := &waitPolicy{First: 10 * time.Millisecond, Max: reportMinute / 4, Timeout: 2 * time.Minute}
			ctx := ctxTimeout(t)
			if _, err := Prepare(ctx, cfg, env); err != nil {
				t.Fatal(err)
			}
			r := New(cfg, env, Options{Kind: KindDrill, Wait: wait})
			db, _, err := r.ChosenPoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Predict(nil, db, TableOf(awstime.Durations(k.Durations())))
			if err != nil {
				t.Fatal(err)
			}
			g, err := r.Graph()
			if err != nil {
				t.Fatal(err)
			}
			j, err := run(t, ctx, openStore(t, cfg), cfg, g, KindDrill)
			if err != nil {
				t.Fatalf("drill on AWS's clock: %v", err)
			}
			rep := r.BuildReport(j)
			for _, s := range rep.Steps {
				t.Logf("%-16s %8s → %8s", s.ID, k.AWS(s.Start.Sub(rep.Start)).Round(1e9), k.AWS(s.End.Sub(rep.Start)).Round(1e9))
			}
			rep.ComparePrediction(p)
			want := []string{StepDatabase, StepLaunchTemplate, StepApp, StepDNS}
			if handoff {
				want = []string{StepDatabase}
			}
			if got := rep.CriticalPath; len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
				t.Fatalf("critical path %v, want it to end %v", got, want)
			}
			data, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				CriticalPath []string `json:"critical_path"`
				Steps        []struct {
					ID       string `json:"id"`
					Critical bool   `json:"critical"`
				} `json:"steps"`
				Prediction struct {
					Predicted float64  `json:"predicted_seconds"`
					Measured  float64  `json:"measured_seconds"`
					Error     *float64 `json:"error_percent"`
					Steps     []struct {
						ID       string   `json:"id"`
						Measured *float64 `json:"measured_seconds"`
					} `json:"steps"`
				} `json:"prediction"`
			}
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			for _, s := range back.Steps {
				if s.Critical != slices.Contains(back.CriticalPath, s.ID) {
					t.Fatalf("step %s critical=%v, path %v", s.ID, s.Critical, back.CriticalPath)
				}
			}
			pr := back.Prediction
			if pr.Predicted != p.Seconds || pr.Measured <= 0 || pr.Error == nil || len(pr.Steps) != len(p.Steps) {
				t.Fatalf("prediction in the report: %s", data)
			}
			measured := k.AWS(rep.End.Sub(rep.Start))
			t.Logf("predicted %s (path %v), measured %s at AWS durations (path %v)", p.Duration().Round(1e9), p.CriticalPath, measured.Round(1e9), rep.CriticalPath)

			var html bytes.Buffer
			if err := report.HTML(&html, rep.Document(nil)); err != nil {
				t.Fatal(err)
			}
			page := html.String()
			for _, id := range want {
				if !strings.Contains(page, `<g class="step critical"><text x="8" y=`) || !strings.Contains(page, `font-weight="bold">`+id+`</text>`) {
					t.Fatalf("the timeline does not mark %s on the critical path", id)
				}
			}
			if !strings.Contains(page, `id="predicted-rto"`) || !strings.Contains(page, `id="prediction"`) {
				t.Fatal("the HTML report does not show the prediction")
			}
		})
	}
}
