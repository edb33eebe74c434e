package recovery

import (
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
)

// Report is the record of one recovery: the points it used and their RPO,
// its RTO, per-step times, and every resource it created.
type Report struct {
	RunID      string          `json:"run_id"`
	Kind       string          `json:"kind"`
	Stack      string          `json:"stack"`
	Region     string          `json:"region"`
	Phase      string          `json:"phase"`
	Start      time.Time       `json:"start"`
	End        time.Time       `json:"end"`
	RTOSeconds float64         `json:"rto_seconds"`
	Points     []PointUsed     `json:"points"`
	Resources  []Resource      `json:"resources"`
	Steps      []StepTiming    `json:"steps"`
	DNS        runbook.Outputs `json:"dns,omitempty"`
	Errors     []string        `json:"errors,omitempty"`
	// Failback is set for a failback only (failback_report.go).
	Failback *FailbackSummary `json:"failback,omitempty"`
}

// PointUsed is a recovery point a run restored from.
type PointUsed struct {
	Resource   string    `json:"resource"`
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	RPOSeconds float64   `json:"rpo_seconds"`
}

// Resource is one thing a run created (or re-attached to).
type Resource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// StepTiming is one step's phase and times.
type StepTiming struct {
	ID      string    `json:"id"`
	Needs   []string  `json:"needs,omitempty"`
	Phase   string    `json:"phase"`
	Start   time.Time `json:"start,omitempty"`
	End     time.Time `json:"end,omitempty"`
	Seconds float64   `json:"seconds"`
	Error   string    `json:"error,omitempty"`
}

// BuildReport reads a recovery's journal into a report. RPO is measured
// from the failover's start: the data lost is what was written between the
// point's time and the moment recovery began.
func (r *Recovery) BuildReport(j *runbook.Journal) *Report {
	rep := &Report{RunID: j.ID, Kind: j.Kind, Stack: j.Stack, Region: r.cfg.DR.Region, Phase: string(j.Phase), Start: j.Start, End: j.End}
	if !j.End.IsZero() {
		rep.RTOSeconds = j.End.Sub(j.Start).Seconds()
	}
	out := outputsOfJournal(j)
	for _, s := range j.Steps {
		st := StepTiming{ID: s.ID, Needs: s.Needs, Phase: string(s.Phase), Start: s.Start, End: s.End, Error: s.Error}
		if !s.End.IsZero() && !s.Start.IsZero() {
			st.Seconds = s.End.Sub(s.Start).Seconds()
		}
		rep.Steps = append(rep.Steps, st)
		if s.Error != "" {
			rep.Errors = append(rep.Errors, s.ID+": "+s.Error)
		}
	}
	sort.SliceStable(rep.Steps, func(a, b int) bool { return rep.Steps[a].Start.Before(rep.Steps[b].Start) })
	p := pointsOf(out[StepPoints])
	addPoint := func(resource, id, at string) {
		if id == "" {
			return
		}
		t, _ := time.Parse(time.RFC3339, at)
		rep.Points = append(rep.Points, PointUsed{Resource: resource, ID: id, Time: t, RPOSeconds: j.Start.Sub(t).Seconds()})
	}
	if d := r.cfg.Recover.Database; d != nil {
		addPoint(d.From, p.DBPoint, p.DBPointTime)
	}
	if a := r.cfg.Recover.App; a != nil {
		addPoint(a.ImageFrom, p.AMI, p.AMIPointTime)
	}
	add := func(typ, id string) {
		if id != "" {
			rep.Resources = append(rep.Resources, Resource{Type: typ, ID: id})
		}
	}
	add("rds", databaseOf(out[StepDatabase]).ID)
	add("elasticache", cacheOf(out[StepCache]).ID)
	if !r.usesPreparedLB() {
		lb := loadBalancerOf(out[StepLoadBalancer])
		add("load-balancer", lb.ARN)
		add("target-group", lb.TargetGroup)
	}
	if e := egressOf(out[StepEgress]); e.EIP != "" {
		add("nat-gateway", e.NAT)
		add("elastic-ip", e.EIP)
	}
	add("launch-template", launchTemplateOf(out[StepLaunchTemplate]).ID)
	add("auto-scaling-group", appOf(out[StepApp]).ASG)
	rep.DNS = out[StepDNS]
	return rep
}
