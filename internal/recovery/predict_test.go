package recovery

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awstime"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestPredictFromTheTable: without a drill, the prediction is the longest
// chain of the table's times. With the hand-off the app boots beside the
// restore and turns healthy a round of health checks after the database
// answers (an instance: from `backing-up`, the last fifth of the restore),
// so the RTO is the restore; a template that renders the endpoints in
// starts only then and pays the app's whole boot after it. The restore
// grows with the snapshot; an Aurora cluster answers only with its writer.
// Waits notice the end 15 s late on average; the record's TTL is not in the
// run's RTO.
func TestPredictFromTheTable(t *testing.T) {
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	useHandoffTemplate(t, cfg)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{}) // Predict calls nothing
	small := &points.Point{Kind: points.KindRDSInstance, SizeGB: 20}
	p, err := r.Predict(nil, small, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	step := func(p Prediction, id string) StepEstimate {
		for _, s := range p.Steps {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no step %s in %+v", id, p)
		return StepEstimate{}
	}
	// 10 s network, then 12 min + 20 × 2 s restore and 15 s to notice.
	if p.Seconds != 10+775 || p.DNSTTLSeconds != 60 {
		t.Fatalf("predicted %v s: %+v", p.Seconds, p)
	}
	if want := []string{StepNetwork, StepDatabase}; !slices.Equal(p.CriticalPath, want) {
		t.Fatalf("critical path %v, want %v", p.CriticalPath, want)
	}
	// The app: healthy 5 checks × 30 s after the database answers, at 80%
	// of the restore; then the DNS step checks for 5 s.
	if app, dns := step(p, StepApp), step(p, StepDNS); app.EndSeconds != 10+0.8*775+150 || dns.EndSeconds != app.EndSeconds+5 {
		t.Fatalf("app %+v, dns %+v", app, dns)
	}
	if !strings.Contains(p.Basis, "20 GB") {
		t.Fatalf("basis: %s", p.Basis)
	}

	aurora, err := r.Predict(nil, &points.Point{Kind: points.KindRDSCluster, SizeGB: 20}, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	// Cluster 8 min + writer 10 min + 20 × 1 s + 15 s; then the app's
	// health checks and DNS.
	if aurora.Seconds != 10+1115+150+5 {
		t.Fatalf("Aurora: predicted %v s", aurora.Seconds)
	}
	if want := []string{StepNetwork, StepDatabase, StepApp, StepDNS}; !slices.Equal(aurora.CriticalPath, want) {
		t.Fatalf("Aurora: critical path %v, want %v", aurora.CriticalPath, want)
	}
	big, err := r.Predict(nil, &points.Point{Kind: points.KindRDSInstance, SizeGB: 500}, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	if big.Seconds != 10+720+1000+15 {
		t.Fatalf("500 GB: predicted %v s", big.Seconds)
	}

	if err := os.WriteFile(cfg.RelPath(cfg.Recover.App.UserData), []byte(userDataTmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	legacy, err := r.Predict(nil, small, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	// The template waits for the endpoint (at 80% of the restore), then
	// 5 s template, the app's whole boot (10 s IAM + 45 s boot + 150 s of
	// checks + 15 s) and DNS.
	if legacy.Seconds != 10+0.8*775+5+220+5 {
		t.Fatalf("rendered-in endpoints: predicted %v s: %+v", legacy.Seconds, legacy)
	}
	if want := []string{StepNetwork, StepDatabase, StepLaunchTemplate, StepApp, StepDNS}; !slices.Equal(legacy.CriticalPath, want) {
		t.Fatalf("rendered-in endpoints: critical path %v, want %v", legacy.CriticalPath, want)
	}

	// Upsert mode changes the record and waits until Route 53 has it.
	up := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSUpsert)
	useHandoffTemplate(t, up)
	pu, err := New(up, testenv.AWS(t, "http://127.0.0.1:1"), Options{}).Predict(nil, small, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	if dns := step(pu, StepDNS); dns.Seconds != 60 {
		t.Fatalf("upsert: DNS %+v", dns)
	}
}

// TestPredictFromTheLastDrill: a drill's measured step times replace the
// table's, a step it did not finish keeps the table's, and the drill
// report's comparison reads the error against the measured RTO.
func TestPredictFromTheLastDrill(t *testing.T) {
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	useHandoffTemplate(t, cfg)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{Kind: KindDrill})
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	drill := &Report{RunID: "drill-1", Start: start, Steps: []StepTiming{
		{ID: StepPoints, Phase: "done", Seconds: 2},
		{ID: StepNetwork, Phase: "done", Seconds: 3},
		{ID: StepDatabase, Phase: "done", Seconds: 300},
		{ID: StepCache, Phase: "done", Seconds: 420},
		{ID: StepLoadBalancer, Phase: "done", Seconds: 4},
		{ID: StepLaunchTemplate, Phase: "done", Seconds: 1},
		{ID: StepEgress, Phase: "done", Seconds: 100},
		{ID: StepApp, Phase: "done", Seconds: 500},
		{ID: StepDNS, Phase: "failed", Seconds: 1},
	}}
	p, err := r.Predict(drill, nil, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	// The app, measured beside the restore, after the NAT: 3 + 100 + 500,
	// then the table's DNS: the drill's record changed and in sync.
	if p.Seconds != 3+100+500+60 {
		t.Fatalf("predicted %v s: %+v", p.Seconds, p)
	}
	if want := []string{StepNetwork, StepEgress, StepApp, StepDNS}; !slices.Equal(p.CriticalPath, want) {
		t.Fatalf("critical path %v, want %v", p.CriticalPath, want)
	}
	for _, s := range p.Steps {
		if want := map[bool]string{true: "table", false: "drill"}[s.ID == StepDNS]; s.From != want {
			t.Errorf("step %s from %s, want %s", s.ID, s.From, want)
		}
	}
	if !strings.Contains(p.Basis, "drill-1") {
		t.Fatalf("basis: %s", p.Basis)
	}
	frac, line := p.Compare(700)
	if frac > -0.04 || frac < -0.06 || !strings.Contains(line, "measured 11m40s") || !strings.Contains(line, "(-5%)") {
		t.Fatalf("compare: %v %s", frac, line)
	}
}

// TestTableFollowsAWSTime: the prediction's AWS figures are read from the
// one table of AWS durations (awstime), not copied: a change there moves
// the prediction.
func TestTableFollowsAWSTime(t *testing.T) {
	d := awstime.Default()
	if AWSClock != TableOf(d) {
		t.Fatalf("AWSClock is not awstime's table: %+v", AWSClock)
	}
	d.DBRestore = awstime.Sized{Base: 20 * time.Minute, PerGB: 3 * time.Second}
	d.ClusterRestore.Base, d.DBInstanceCreate.Base = time.Minute, 2*time.Minute
	d.CacheCluster, d.LoadBalancer, d.NatGateway = 7*time.Minute, 4*time.Minute, 5*time.Minute
	got := TableOf(d)
	if got.DBInstance != 20*time.Minute || got.DBPerGB != 3*time.Second || got.DBCluster != 3*time.Minute ||
		got.Cache != 7*time.Minute || got.LoadBalancer != 4*time.Minute || got.Egress != 5*time.Minute {
		t.Fatalf("table of changed durations: %+v", got)
	}
}

// timings is a run's steps from (id, start s, end s, needs...) rows.
func timings(t0 time.Time, rows ...[]any) []StepTiming {
	var out []StepTiming
	for _, r := range rows {
		s := StepTiming{ID: r[0].(string), Phase: "done", Start: t0.Add(time.Duration(r[1].(int)) * time.Second), End: t0.Add(time.Duration(r[2].(int)) * time.Second)}
		s.Seconds = s.End.Sub(s.Start).Seconds()
		for _, n := range r[3:] {
			s.Needs = append(s.Needs, n.(string))
		}
		out = append(out, s)
	}
	return out
}

// TestCriticalPathOfARun: the measured critical path runs back from the
// step that ended last through the need that ended last. With the
// hand-off the app is done before the restore (as on the AWS clock, which
// turns targets healthy whatever the database does), so the restore alone
// sets the RTO; a template that renders the endpoints in waits for the
// restore though the graph has no edge, and the path runs through it.
func TestCriticalPathOfARun(t *testing.T) {
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{}) // calls nothing
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	common := [][]any{
		{StepPoints, 0, 2}, {StepNetwork, 0, 10},
		{StepDatabase, 10, 770, StepPoints, StepNetwork}, {StepCache, 10, 610, StepNetwork},
		{StepLoadBalancer, 10, 15, StepNetwork}, {StepEgress, 10, 130, StepNetwork},
	}
	handoff := append(slices.Clone(common), []any{StepLaunchTemplate, 10, 15, StepPoints, StepNetwork},
		[]any{StepApp, 130, 335, StepLaunchTemplate, StepLoadBalancer, StepEgress}, []any{StepDNS, 335, 340, StepApp, StepLoadBalancer})
	if got, want := r.criticalPath(timings(t0, handoff...)), []string{StepNetwork, StepDatabase}; !slices.Equal(got, want) {
		t.Fatalf("hand-off: critical path %v, want %v", got, want)
	}
	// The template waited for the endpoints until 620 s (the restore's
	// backing-up); the cache's came earlier.
	legacy := append(slices.Clone(common), []any{StepLaunchTemplate, 10, 620, StepPoints, StepNetwork},
		[]any{StepApp, 620, 825, StepLaunchTemplate, StepLoadBalancer, StepEgress}, []any{StepDNS, 825, 830, StepApp, StepLoadBalancer})
	want := []string{StepNetwork, StepDatabase, StepLaunchTemplate, StepApp, StepDNS}
	if got := r.criticalPath(timings(t0, legacy...)); !slices.Equal(got, want) {
		t.Fatalf("rendered-in endpoints: critical path %v, want %v", got, want)
	}
	// A step that never ended is not on it.
	failed := timings(t0, legacy...)
	failed[len(failed)-1].End = time.Time{}
	if got := r.criticalPath(failed); !slices.Equal(got, want[:4]) {
		t.Fatalf("with DNS unfinished: %v", got)
	}
}

// TestPredictionAgainstARun: the drill report's comparison carries the
// predicted and measured RTO and per step, with the error in percent, and
// leaves out what was not measured.
func TestPredictionAgainstARun(t *testing.T) {
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{Kind: KindDrill})
	p, err := r.Predict(nil, &points.Point{Kind: points.KindRDSInstance, SizeGB: 20}, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rep := &Report{Phase: "done", Start: t0, End: t0.Add(800 * time.Second), RTOSeconds: 800, CriticalPath: []string{StepNetwork, StepDatabase},
		Steps: timings(t0, []any{StepNetwork, 0, 10}, []any{StepDatabase, 10, 790}, []any{StepCache, 10, 10})}
	rep.Steps = append(rep.Steps, StepTiming{ID: StepDNS, Phase: "failed"})
	rep.ComparePrediction(p)
	c := rep.Prediction
	if c == nil || c.PredictedSeconds != p.Seconds || c.MeasuredSeconds != 800 || c.ErrorPercent == nil {
		t.Fatalf("comparison: %+v", c)
	}
	if want := math.Round((p.Seconds-800)/800*1000) / 10; *c.ErrorPercent != want {
		t.Fatalf("error %v%%, want %v%%", *c.ErrorPercent, want)
	}
	if !slices.Equal(c.PredictedCriticalPath, p.CriticalPath) || !slices.Equal(c.MeasuredCriticalPath, rep.CriticalPath) {
		t.Fatalf("paths: %v, %v", c.PredictedCriticalPath, c.MeasuredCriticalPath)
	}
	step := map[string]StepComparison{}
	for _, s := range c.Steps {
		step[s.ID] = s
	}
	db := step[StepDatabase]
	if db.PredictedSeconds != 775 || db.MeasuredSeconds == nil || *db.MeasuredSeconds != 780 || db.ErrorPercent == nil || *db.ErrorPercent != -0.6 {
		t.Fatalf("database: %+v", db)
	}
	// moto's instant cache: measured, but no error to speak of; DNS failed.
	if s := step[StepCache]; s.MeasuredSeconds == nil || s.ErrorPercent != nil {
		t.Fatalf("cache: %+v", s)
	}
	if s := step[StepDNS]; s.MeasuredSeconds != nil || s.ErrorPercent != nil {
		t.Fatalf("dns: %+v", s)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"prediction":{`, `"predicted_seconds":`, `"measured_seconds":800`, `"error_percent":`, `"critical_path":["network","database"]`} {
		if !strings.Contains(string(data), key) {
			t.Fatalf("report JSON lacks %s: %s", key, data)
		}
	}
	// A run that did not finish measured no RTO: no error.
	rep.Phase = "failed"
	rep.ComparePrediction(p)
	if rep.Prediction.MeasuredSeconds != 0 || rep.Prediction.ErrorPercent != nil || !strings.Contains(rep.Prediction.Summary, "nothing measured") {
		t.Fatalf("unfinished run: %+v", rep.Prediction)
	}
}
