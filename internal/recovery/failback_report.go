package recovery

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// FailbackSummary is what a failback adds to its report: how long writes
// were frozen, what was copied after the freeze, what serves now, what
// served before (still running, retired only on request), and the config
// change that makes protect, prepare and status describe what serves now.
type FailbackSummary struct {
	FrozenAt time.Time `json:"frozen_at,omitempty"`
	// FreezeSeconds runs from the freeze to the end of the DNS switch (or
	// of the app, without DNS): the time users could not write.
	FreezeSeconds float64 `json:"freeze_seconds"`
	DBMode        string  `json:"db_mode,omitempty"` // replica or snapshot
	// AfterFreeze is what reached the primary after writes stopped: the
	// replica's promotion or the last snapshot, and objects per bucket.
	AfterFreeze   []string          `json:"after_freeze,omitempty"`
	Production    []Resource        `json:"production"`
	OldProduction []Resource        `json:"old_production"`
	ConfigChanges []spec.ScalarEdit `json:"config_changes,omitempty"`
	// Notes are what the config change cannot say by itself.
	Notes []string `json:"notes,omitempty"`
}

// BuildReport reads a failback's journal into a report.
func (f *Failback) BuildReport(j *runbook.Journal) *Report {
	rep := f.home.BuildReport(j)
	rep.Failback = f.summary(j)
	return rep
}

func (f *Failback) summary(j *runbook.Journal) *FailbackSummary {
	out := outputsOfJournal(j)
	s := &FailbackSummary{}
	fr := freezeOf(out[StepFreeze])
	s.FrozenAt = fr.At
	end := StepDNS
	if f.cfg.Recover.DNS == nil {
		end = StepApp
	}
	for _, st := range j.Steps {
		if st.ID == end && !st.End.IsZero() && !fr.At.IsZero() {
			s.FreezeSeconds = st.End.Sub(fr.At).Seconds()
		}
	}
	up := catchUpOf(out[StepCatchUpDB])
	s.DBMode = up.Mode
	switch final := finalDBOf(out[StepFinalDB]); {
	case up.Mode == "replica" && final.Time != "":
		s.AfterFreeze = append(s.AfterFreeze, "database: replica "+up.Replica+" promoted at replica lag 0")
	case final.Snapshot != "":
		s.AfterFreeze = append(s.AfterFreeze, "database: last snapshot "+final.Snapshot+" copied back and restored")
		if f.cluster() {
			// What the freeze's length is made of, for the next failback's
			// planning: a cluster snapshot copy is never incremental.
			s.Notes = append(s.Notes, "Aurora copies a cluster snapshot across regions in full: writes stayed frozen for a whole copy of "+final.Snapshot+" and the restore of cluster "+databaseOf(out[StepDatabase]).ID)
		}
	}
	for _, b := range f.cfg.Protect.Buckets {
		if n, ok := out[StepS3Final][b.Name+"_copied"]; ok {
			s.AfterFreeze = append(s.AfterFreeze, "s3 "+b.Source+": "+n+" objects")
		}
	}
	add := func(list *[]Resource, typ, id string) {
		if id != "" {
			*list = append(*list, Resource{Type: typ, ID: id})
		}
	}
	dbType := "rds"
	if f.cluster() {
		dbType = "rds-cluster"
	}
	add(&s.Production, dbType, databaseOf(out[StepDatabase]).ID)
	add(&s.Production, "load-balancer", loadBalancerOf(out[StepLoadBalancer]).DNS)
	add(&s.Production, "auto-scaling-group", appOf(out[StepApp]).ASG)
	if d := f.cfg.Recover.Database; d != nil {
		add(&s.OldProduction, dbType, d.From)
	}
	if im, ok := f.cfg.Image(imageFrom(f.cfg)); ok {
		add(&s.OldProduction, "instance", describeSelector(im.Instance))
		s.Notes = append(s.Notes, "protect.images "+im.Name+" still selects the old instance ("+describeSelector(im.Instance)+
			"): point it at an instance of "+appOf(out[StepApp]).ASG+", e.g. tag aws:autoscaling:groupName: "+appOf(out[StepApp]).ASG)
	}
	if d := f.cfg.Recover.DNS; d != nil {
		add(&s.OldProduction, "load-balancer", d.PrimaryTarget)
	}
	s.ConfigChanges = f.configChanges(out)
	return s
}

func imageFrom(cfg *spec.Config) string {
	if cfg.Recover.App == nil {
		return ""
	}
	return cfg.Recover.App.ImageFrom
}

func describeSelector(sel spec.InstanceSelector) string {
	if sel.ID != "" {
		return sel.ID
	}
	var kv []string
	for k, v := range sel.Tag {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return "tagged " + strings.Join(kv, ",")
}

// configChanges are the edits after which the config protects what
// serves now: the failback's DB instead of the old one, and its load
// balancer as the primary target of failover records. The image source
// stays as written: it is an instance selector the user chooses.
func (f *Failback) configChanges(out journalOutputs) []spec.ScalarEdit {
	var edits []spec.ScalarEdit
	if d := f.cfg.Recover.Database; d != nil {
		if db := databaseOf(out[StepDatabase]).ID; db != "" && db != d.From {
			edits = append(edits,
				spec.ScalarEdit{Path: []string{"protect", "databases", "[id=" + d.From + "]", "id"}, Old: d.From, New: db},
				spec.ScalarEdit{Path: []string{"recover", "database", "from"}, Old: d.From, New: db},
			)
		}
	}
	if d := f.cfg.Recover.DNS; d != nil && d.PrimaryTarget != "" {
		if lb := loadBalancerOf(out[StepLoadBalancer]).DNS; lb != "" && lb != d.PrimaryTarget {
			edits = append(edits, spec.ScalarEdit{Path: []string{"recover", "dns", "primary_target"}, Old: d.PrimaryTarget, New: lb})
		}
	}
	return edits
}

// FreezeLine says in one line how long writes stopped, for the CLI.
func (s *FailbackSummary) FreezeLine() string {
	if s.FrozenAt.IsZero() {
		return "writes not frozen yet"
	}
	return "writes frozen " + strconv.FormatFloat(s.FreezeSeconds, 'f', 1, 64) + " s (from " + s.FrozenAt.Format(time.RFC3339) + " to the DNS switch)"
}
