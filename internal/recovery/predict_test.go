package recovery

import (
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
// restore, so the RTO is the restore, the app's last stretch after it, and
// DNS; a template that renders the endpoints in pays the app's whole boot
// after the restore. The restore grows with the snapshot.
func TestPredictFromTheTable(t *testing.T) {
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	useHandoffTemplate(t, cfg)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{}) // Predict calls nothing
	small := &points.Point{Kind: points.KindRDSInstance, SizeGB: 20}
	p, err := r.Predict(nil, small, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	// 10 s network, 12 min + 20 × 2 s restore, 90 s for the app after it,
	// 1 min DNS and the record's 60 s TTL.
	if p.Seconds != 10+760+90+120 {
		t.Fatalf("predicted %v s: %+v", p.Seconds, p)
	}
	if want := []string{StepNetwork, StepDatabase, StepApp, StepDNS}; !slices.Equal(p.CriticalPath, want) {
		t.Fatalf("critical path %v, want %v", p.CriticalPath, want)
	}
	if !strings.Contains(p.Basis, "20 GB") {
		t.Fatalf("basis: %s", p.Basis)
	}

	aurora, err := r.Predict(nil, &points.Point{Kind: points.KindRDSCluster, SizeGB: 20}, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	if aurora.Seconds != 10+1080+20+90+120 {
		t.Fatalf("Aurora: predicted %v s", aurora.Seconds)
	}
	big, err := r.Predict(nil, &points.Point{Kind: points.KindRDSInstance, SizeGB: 500}, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	if big.Seconds != 10+720+1000+90+120 {
		t.Fatalf("500 GB: predicted %v s", big.Seconds)
	}

	if err := os.WriteFile(cfg.RelPath(cfg.Recover.App.UserData), []byte(userDataTmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	legacy, err := r.Predict(nil, small, AWSClock)
	if err != nil {
		t.Fatal(err)
	}
	// The app's whole boot after the restore: 770 + 5 s template + 6 min + 2 min.
	if legacy.Seconds != 770+5+360+120 {
		t.Fatalf("rendered-in endpoints: predicted %v s: %+v", legacy.Seconds, legacy)
	}
	if saved := 1 - p.Seconds/legacy.Seconds; saved < 0.2 {
		t.Fatalf("the hand-off saves only %.0f%% on 20 GB", saved*100)
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
	// then the table's DNS with the TTL.
	if p.Seconds != 3+100+500+120 {
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
	frac, line := p.Compare(760)
	if frac > -0.04 || frac < -0.06 || !strings.Contains(line, "measured 12m40s") || !strings.Contains(line, "(-5%)") {
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
