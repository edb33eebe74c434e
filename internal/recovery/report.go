package recovery

import (
	"slices"
	"sort"
	"time"

	"github.com/pilotlight/pilotlight/internal/report"
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
	// CriticalPath is the chain of steps that set the measured RTO, first
	// to last (criticalPath); those steps are also marked Critical.
	CriticalPath []string `json:"critical_path,omitempty"`
	// Prediction is the RTO predicted before the run against what it
	// measured (a drill's: Compare).
	Prediction *Comparison `json:"prediction,omitempty"`
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
	// Critical marks a step on the run's critical path.
	Critical bool `json:"critical,omitempty"`
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
	rep.CriticalPath = r.criticalPath(rep.Steps)
	for i := range rep.Steps {
		rep.Steps[i].Critical = slices.Contains(rep.CriticalPath, rep.Steps[i].ID)
	}
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

// criticalPath is the chain of steps that set a run's RTO, first to last:
// from the step that ended last, back through what each step waited for
// longest, the need that ended last. What a step waits for though the
// graph has no such edge (waitsFor: an endpoint AWS gives during another
// step) counts among its needs if that step had begun before this one
// ended. Steps that did not run to an end are left out.
func (r *Recovery) criticalPath(steps []StepTiming) []string {
	ended := map[string]StepTiming{}
	last := ""
	for _, s := range steps {
		if s.Start.IsZero() || s.End.IsZero() {
			continue
		}
		ended[s.ID] = s
		if last == "" || s.End.After(ended[last].End) {
			last = s.ID
		}
	}
	var path []string
	for id := last; id != "" && !slices.Contains(path, id); {
		path = append(path, id)
		s := ended[id]
		needs := slices.Clip(s.Needs)
		for _, w := range r.waitsFor(id) {
			if o, ok := ended[w]; ok && o.Start.Before(s.End) {
				needs = append(needs, w)
			}
		}
		id = ""
		for _, n := range needs {
			if c, ok := ended[n]; ok && (id == "" || c.End.After(ended[id].End)) {
				id = n
			}
		}
	}
	slices.Reverse(path)
	return path
}

// ComparePrediction records in rep the prediction made before its run,
// against what the run measured.
func (rep *Report) ComparePrediction(p Prediction) {
	c := p.Against(rep)
	rep.Prediction = &c
}

// Document turns a report and checks into the renderable report document.
func (rep *Report) Document(checks []report.Check) *report.Document {
	d := &report.Document{
		Title: rep.Kind + " of " + rep.Stack, Kind: rep.Kind, RunID: rep.RunID, Stack: rep.Stack, Region: rep.Region,
		Phase: rep.Phase, Start: rep.Start, End: rep.End, RTO: seconds(rep.RTOSeconds), Checks: checks,
		CriticalPath: rep.CriticalPath,
	}
	for _, p := range rep.Points {
		d.Points = append(d.Points, report.Point{Resource: p.Resource, ID: p.ID, Time: p.Time, RPO: seconds(p.RPOSeconds)})
	}
	for _, s := range rep.Steps {
		d.Steps = append(d.Steps, report.Step{ID: s.ID, Phase: s.Phase, Start: s.Start, End: s.End, Error: s.Error, Critical: s.Critical})
	}
	for _, res := range rep.Resources {
		d.Resources = append(d.Resources, res.Type+" "+res.ID)
	}
	if rep.DNS != nil && rep.DNS["record"] != "" {
		d.Notes = append(d.Notes, "DNS "+rep.DNS["mode"]+": "+rep.DNS["record"]+" -> "+rep.DNS["target"])
	}
	if c := rep.Prediction; c != nil {
		pr := &report.Prediction{Predicted: seconds(c.PredictedSeconds), Measured: seconds(c.MeasuredSeconds), ErrorPercent: c.ErrorPercent,
			Basis: c.Basis, PredictedPath: c.PredictedCriticalPath, MeasuredPath: c.MeasuredCriticalPath}
		for _, s := range c.Steps {
			ps := report.PredictedStep{ID: s.ID, From: s.From, Predicted: seconds(s.PredictedSeconds), ErrorPercent: s.ErrorPercent}
			if s.MeasuredSeconds != nil {
				m := seconds(*s.MeasuredSeconds)
				ps.Measured = &m
			}
			pr.Steps = append(pr.Steps, ps)
		}
		d.Prediction = pr
	}
	return d
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
