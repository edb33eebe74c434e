package recovery

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awstime"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// StepEstimate is one step's predicted duration and what it is based on.
type StepEstimate struct {
	ID      string  `json:"id"`
	Seconds float64 `json:"seconds"`
	// From is "drill" (the last drill's measured duration) or "table".
	From string `json:"from"`
	// StartSeconds and EndSeconds place the step in the predicted run:
	// offsets from its start. End may be later than Start + Seconds when
	// the step waits for the database (the app turns healthy only once it
	// answers).
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
}

// Prediction is a failover's predicted RTO and the chain of steps that
// sets it.
type Prediction struct {
	Seconds      float64        `json:"seconds"`
	CriticalPath []string       `json:"critical_path"`
	Steps        []StepEstimate `json:"steps"`
	// Basis says where the durations come from, for a person.
	Basis string `json:"basis"`
	// DNSTTLSeconds is how much longer resolvers may keep the old answer
	// (the record's TTL): users wait for it, the run does not, so it is
	// in neither the predicted nor the measured RTO.
	DNSTTLSeconds float64 `json:"dns_ttl_seconds,omitempty"`
}

// Duration is the predicted RTO.
func (p Prediction) Duration() time.Duration { return time.Duration(p.Seconds * float64(time.Second)) }

// DurationTable is what each step takes on AWS when no drill has measured
// it: a base, and for the database a part growing with the snapshot's
// size. The figures are AWS's typical times for the reference stack
// (db.t3/r-class restore, cache.t3 Redis, t3 instances booting the
// stack's AMI); a drill on the user's account replaces them.
type DurationTable struct {
	Points, Network, LaunchTemplate time.Duration
	// DBInstance and DBCluster (Aurora: the cluster and its writer) are the
	// restore's fixed part; DBPerGB and DBClusterPerGB its part per GB of
	// snapshot.
	DBInstance, DBCluster, DBPerGB, DBClusterPerGB, DBMultiAZ time.Duration
	// DBEndpointAt is the share of an instance's restore after which AWS
	// gives its endpoint and it answers (it is `backing-up` for the rest):
	// the hand-off publishes the endpoint then. An Aurora cluster's
	// endpoint comes at once but answers only with its writer, at the end.
	DBEndpointAt                       float64
	Cache                              time.Duration
	LoadBalancer, PreparedLoadBalancer time.Duration
	Egress                             time.Duration
	// App is launch, boot and user-data up to healthy targets, when the
	// database is already there.
	App time.Duration
	// AppAfterDB is how long after the database answers the app's targets
	// turn healthy (user-data connects, health checks pass).
	AppAfterDB time.Duration
	// DNSChange is a record changed and INSYNC (upsert mode, a drill's
	// record); DNSCheck is the DNS step that changes nothing (failover
	// records: Route 53 has already moved the traffic; manual).
	DNSChange, DNSCheck time.Duration
	// PollLag is how long after AWS is done a wait notices it: pilotlight
	// polls at most every 30 s (waitPolicy), half of that on average. It
	// is added to the steps that wait; a drill's measured steps hold it.
	PollLag time.Duration
}

// AWSClock is the table the prediction falls back to: AWS's durations
// (internal/awstime, the table the emulator's clock runs on).
var AWSClock = TableOf(awstime.Default())

// TableOf is the prediction's table on AWS durations d. The restores,
// cache, load balancer, NAT gateway and Route 53 change are d's; the
// Aurora restore is the cluster's plus its writer instance's
// (CreateDBInstance); the app is IAM's propagation of its instance
// profile, the instance's boot and the ALB's healthy threshold of checks
// (ELB's defaults), and after the database it needs those checks again.
// pilotlight's own calls (points, network, launch template, the prepared
// load balancer, the DNS check) and the Multi-AZ standby, which d does not
// hold, are estimates.
func TableOf(d awstime.Durations) DurationTable {
	checks := awstime.ALBHealthCheckInterval * awstime.ALBHealthyThreshold
	return DurationTable{
		Points: 5 * time.Second, Network: 10 * time.Second, LaunchTemplate: 5 * time.Second,
		DBInstance: d.DBRestore.Base, DBPerGB: d.DBRestore.PerGB,
		DBCluster: d.ClusterRestore.Base + d.DBInstanceCreate.Base, DBClusterPerGB: d.ClusterRestore.PerGB,
		DBMultiAZ:    5 * time.Minute,
		DBEndpointAt: 1 - d.BackingUp,
		Cache:        d.CacheCluster,
		LoadBalancer: d.LoadBalancer, PreparedLoadBalancer: 5 * time.Second,
		Egress:     d.NatGateway,
		App:        d.IAMPropagation + d.InstanceBoot + checks,
		AppAfterDB: checks,
		DNSChange:  d.Route53Change, DNSCheck: 5 * time.Second,
		PollLag: defaultWait().Max / 2,
	}
}

// tableDuration is step id's duration in the table for r's config and a
// snapshot of db (nil: unknown size, counted as 0 GB).
func (t DurationTable) tableDuration(r *Recovery, id string, db *points.Point) time.Duration {
	switch id {
	case StepPoints:
		return t.Points
	case StepNetwork:
		return t.Network
	case StepDatabase:
		d, perGB := t.DBInstance, t.DBPerGB
		gb := 0
		if db != nil {
			gb = db.SizeGB
		}
		if r.restoresCluster(db) {
			d, perGB = t.DBCluster, t.DBClusterPerGB
		}
		if r.cfg.Recover.Database != nil && r.cfg.Recover.Database.MultiAZ {
			d += t.DBMultiAZ
		}
		return d + time.Duration(gb)*perGB + t.PollLag
	case StepCache:
		return t.Cache + t.PollLag
	case StepLoadBalancer:
		if r.usesPreparedLB() {
			return t.PreparedLoadBalancer
		}
		return t.LoadBalancer + t.PollLag
	case StepEgress:
		return t.Egress + t.PollLag
	case StepLaunchTemplate:
		return t.LaunchTemplate
	case StepApp:
		return t.App + t.PollLag
	case StepDNS:
		if r.changesDNS() {
			return t.DNSChange
		}
		return t.DNSCheck
	}
	return 0
}

// changesDNS reports whether the DNS step changes a record and waits for
// Route 53 to apply it (kind_dns.go): upsert mode, or a drill's record.
// With failover records Route 53 has moved the traffic on its own once the
// primary's health check failed, and the step only checks.
func (r *Recovery) changesDNS() bool {
	d := r.cfg.Recover.DNS
	if d == nil || d.Mode == spec.DNSManual {
		return false
	}
	if r.opts.Kind == KindDrill {
		return d.DrillRecord != ""
	}
	return d.Mode == spec.DNSUpsert
}

// restoresCluster reports whether the database restored is an Aurora
// cluster: the point's kind, or without one the protected database's.
func (r *Recovery) restoresCluster(db *points.Point) bool {
	if db != nil {
		return db.Kind == points.KindRDSCluster
	}
	if r.cfg.Recover.Database == nil {
		return false
	}
	for _, d := range r.cfg.Protect.Databases {
		if d.ID == r.cfg.Recover.Database.From {
			return d.IsCluster()
		}
	}
	return false
}

// Predict predicts r's failover RTO and its critical path. Each step takes
// what it took in last (the newest drill's report) when last measured it,
// and otherwise what table says for the snapshot db. A template that
// renders the endpoints in starts once AWS gives them (an instance's while
// it is still being restored); the app boots beside the restore but cannot
// turn healthy before the database answers: it ends no earlier than that
// plus table.AppAfterDB. A drill's measured app step already holds that
// wait. The RTO is the run's, as a drill measures it: resolvers' TTL is
// not in it (DNSTTLSeconds).
func (r *Recovery) Predict(last *Report, db *points.Point, table DurationTable) (Prediction, error) {
	g, err := r.Graph()
	if err != nil {
		return Prediction{}, err
	}
	measured := map[string]float64{}
	if last != nil {
		for _, s := range last.Steps {
			if s.Phase == string(runbook.PhaseDone) && s.Seconds > 0 {
				measured[s.ID] = s.Seconds
			}
		}
	}
	p := Prediction{Basis: tableBasis(db)}
	if len(measured) > 0 {
		p.Basis = fmt.Sprintf("the steps of drill %s (%s), the table for any it did not measure", last.RunID, last.Start.UTC().Format(time.RFC3339))
	}
	if d := r.cfg.Recover.DNS; d != nil && (r.opts.Kind != KindDrill || d.DrillRecord != "") {
		p.DNSTTLSeconds = float64(d.TTL)
	}
	steps := g.Steps()
	finish := map[string]float64{}
	// endpoint is when a step's endpoint is there to hand off; answers
	// when the database behind it answers.
	endpoint, answers := map[string]float64{}, map[string]float64{}
	prev := map[string]string{}
	for _, s := range steps {
		est := StepEstimate{ID: s.ID, From: "table", Seconds: table.tableDuration(r, s.ID, db).Seconds()}
		if v, ok := measured[s.ID]; ok {
			est.Seconds, est.From = v, "drill"
		}
		start, from := 0.0, ""
		for _, n := range s.Needs {
			if finish[n] > start || from == "" {
				start, from = finish[n], n
			}
		}
		if s.ID == StepLaunchTemplate {
			for _, w := range r.waitsFor(s.ID) {
				if at, ok := endpoint[w]; ok && at > start {
					start, from = at, w
				}
			}
		}
		end := start + est.Seconds
		if at, ok := answers[StepDatabase]; ok && s.ID == StepApp && at+table.AppAfterDB.Seconds() > end {
			end, from = at+table.AppAfterDB.Seconds(), StepDatabase
		}
		switch s.ID {
		case StepDatabase:
			endpoint[s.ID], answers[s.ID] = start+table.DBEndpointAt*est.Seconds, start+table.DBEndpointAt*est.Seconds
			if r.restoresCluster(db) {
				endpoint[s.ID], answers[s.ID] = start, end
			}
		case StepCache:
			endpoint[s.ID] = end
		}
		est.StartSeconds, est.EndSeconds = start, end
		p.Steps = append(p.Steps, est)
		finish[s.ID], prev[s.ID] = end, from
	}
	best := ""
	for _, s := range steps {
		if best == "" || finish[s.ID] > finish[best] {
			best = s.ID
		}
	}
	for id := best; id != ""; id = prev[id] {
		p.CriticalPath = append([]string{id}, p.CriticalPath...)
	}
	p.Seconds = math.Round(finish[best])
	return p, nil
}

// waitsFor is what step id waits for though the graph has no such edge,
// as the measured critical path reads it (criticalPath): the endpoints it
// needs, which AWS gives during those steps. A launch template that
// renders the endpoints in waits for the database's and the cache's before
// it starts (kind_handoff.go). The app's targets turn healthy only once
// its user-data reaches the database: a wait of its own when the app boots
// beside the restore (the hand-off) or the endpoint comes before the
// database answers (Aurora's cluster endpoint).
func (r *Recovery) waitsFor(id string) []string {
	switch {
	case id == StepLaunchTemplate && !readsHandoff(r.cfg):
		return []string{StepDatabase, StepCache}
	case id == StepApp && (readsHandoff(r.cfg) || r.restoresCluster(nil)):
		return []string{StepDatabase}
	}
	return nil
}

func tableBasis(db *points.Point) string {
	if db == nil {
		return "AWS's typical step times (no drill yet)"
	}
	return fmt.Sprintf("AWS's typical step times for a %d GB snapshot (no drill yet)", db.SizeGB)
}

// Comparison is a run's measured RTO and step times against the
// prediction made before it started: what the drill report carries.
type Comparison struct {
	Basis            string  `json:"basis"`
	PredictedSeconds float64 `json:"predicted_seconds"`
	MeasuredSeconds  float64 `json:"measured_seconds"`
	// ErrorPercent is (predicted − measured) / measured × 100; absent when
	// nothing was measured (a run that did not finish).
	ErrorPercent          *float64         `json:"error_percent,omitempty"`
	PredictedCriticalPath []string         `json:"predicted_critical_path"`
	MeasuredCriticalPath  []string         `json:"measured_critical_path,omitempty"`
	Steps                 []StepComparison `json:"steps"`
	// Summary is the comparison in one line, for a person.
	Summary string `json:"summary"`
}

// StepComparison is one step's predicted and measured duration.
type StepComparison struct {
	ID               string  `json:"id"`
	From             string  `json:"from"`
	PredictedSeconds float64 `json:"predicted_seconds"`
	// MeasuredSeconds and ErrorPercent are absent for a step that did not
	// finish; ErrorPercent also for one that took no measurable time.
	MeasuredSeconds *float64 `json:"measured_seconds,omitempty"`
	ErrorPercent    *float64 `json:"error_percent,omitempty"`
}

// Against compares p with the run rep recorded: the RTO, the critical
// paths, and each step's duration (a predicted step's, waits included,
// against the journal's).
func (p Prediction) Against(rep *Report) Comparison {
	c := Comparison{Basis: p.Basis, PredictedSeconds: p.Seconds, PredictedCriticalPath: p.CriticalPath,
		MeasuredCriticalPath: rep.CriticalPath}
	if rep.Phase == string(runbook.PhaseDone) {
		c.MeasuredSeconds = rep.RTOSeconds
	}
	frac, line := p.Compare(c.MeasuredSeconds)
	if c.MeasuredSeconds > 0 {
		c.ErrorPercent = percent(frac)
	}
	c.Summary = line
	done := map[string]float64{}
	for _, s := range rep.Steps {
		if s.Phase == string(runbook.PhaseDone) {
			done[s.ID] = s.Seconds
		}
	}
	for _, e := range p.Steps {
		sc := StepComparison{ID: e.ID, From: e.From, PredictedSeconds: e.EndSeconds - e.StartSeconds}
		if m, ok := done[e.ID]; ok {
			sc.MeasuredSeconds = &m
			if m > 0 {
				sc.ErrorPercent = percent((sc.PredictedSeconds - m) / m)
			}
		}
		c.Steps = append(c.Steps, sc)
	}
	return c
}

// percent is a fraction as a percentage with one decimal.
func percent(frac float64) *float64 {
	v := math.Round(frac*1000) / 10
	return &v
}

// Compare is the drill report's line on a prediction: predicted against
// measured RTO, and the error as a fraction of the measured one.
func (p Prediction) Compare(measuredSeconds float64) (errFraction float64, line string) {
	if measuredSeconds <= 0 {
		return 0, fmt.Sprintf("predicted RTO %s; nothing measured", p.Duration().Round(time.Second))
	}
	errFraction = (p.Seconds - measuredSeconds) / measuredSeconds
	return errFraction, fmt.Sprintf("predicted RTO %s, measured %s (%+.0f%%); predicted critical path %s",
		p.Duration().Round(time.Second), time.Duration(measuredSeconds*float64(time.Second)).Round(time.Second), errFraction*100, strings.Join(p.CriticalPath, " -> "))
}
