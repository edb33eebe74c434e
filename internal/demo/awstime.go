package demo

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/recovery"
)

// DefaultAWSTime is --aws-time's speed-up when no factor is given: an AWS
// minute lasts half a second (emulator.DefaultMinute).
const DefaultAWSTime = float64(time.Minute / emulator.DefaultMinute)

// productionDBGB is the production database's storage, as the seed's
// database/ makes it (20 GB gp2): the clock sizes snapshots, copies and
// restores by it.
const productionDBGB = 20

// AWSTime is the demo's failover at AWS durations (--aws-time): what the
// clock's table (docs/aws-time.md) says a user would live through. The
// figures are modelled, not measured on AWS.
type AWSTime struct {
	// Factor is how many times faster than AWS the demo's world ran.
	Factor float64 `json:"factor"`
	// RTO is the failover's, at AWS durations.
	RTO time.Duration `json:"rto_ns"`
	// CriticalPath is the longest chain of the failover's steps, at AWS
	// durations, and the steps on it.
	CriticalPath      time.Duration `json:"critical_path_ns"`
	CriticalPathSteps []string      `json:"critical_path_steps"`
	// Seed is the seed's manual sequence for the same database.
	Seed      time.Duration       `json:"seed_manual_ns"`
	SeedSteps []emulator.SeedStep `json:"seed_manual_steps"`
	// RPO is each point's age at AWS durations when the failover began.
	RPO        []PointAge `json:"rpo"`
	DatabaseGB int        `json:"database_gb"`
	// AppStart and DatabaseReady are when, into the failover at AWS
	// durations, the app's instances were launched and the restored
	// database became available: with the SSM hand-off the app boots
	// beside the restore, so AppStart comes first.
	AppStart      time.Duration `json:"app_start_ns"`
	DatabaseReady time.Duration `json:"database_ready_ns"`
}

// BootLine says whether the app booted beside the restore.
func (a *AWSTime) BootLine() string {
	rel := "before"
	if a.AppStart >= a.DatabaseReady {
		rel = "after"
	}
	return fmt.Sprintf("app instances launched %s into the failover, %s the database was available (%s)",
		a.AppStart.Round(time.Second), rel, a.DatabaseReady.Round(time.Second))
}

// PointAge is a recovery point's age when the failover began.
type PointAge struct {
	Resource string        `json:"resource"`
	ID       string        `json:"id"`
	Age      time.Duration `json:"age_ns"`
}

// Line is the demo's closing line.
func (a *AWSTime) Line() string {
	return fmt.Sprintf("RTO at AWS durations: %s (critical path %s; the seed's manual sequence %s)",
		a.RTO.Round(time.Second), a.CriticalPath.Round(time.Second), a.Seed.Round(time.Second))
}

// awsTime converts the failover's journal and report into AWS time.
func (d *demo) awsTime(out *operation.Outcome, rep *recovery.Report) (*AWSTime, error) {
	k := d.clock
	g, err := recovery.New(d.cfg, d.env, recovery.Options{Kind: recovery.KindFailover}).Graph()
	if err != nil {
		return nil, err
	}
	took := map[string]time.Duration{}
	for _, s := range out.Journal.Steps {
		if !s.End.IsZero() {
			took[s.ID] = k.AWS(s.End.Sub(s.Start))
		}
	}
	path, steps := g.CriticalPath(took)
	gb := productionDBGB
	seed := k.Durations().SeedSequence(gb)
	a := &AWSTime{
		Factor: d.opts.AWSTime, RTO: k.AWS(time.Duration(rep.RTOSeconds * float64(time.Second))),
		CriticalPath: path, CriticalPathSteps: steps, Seed: emulator.SeedTotal(seed), SeedSteps: seed, DatabaseGB: gb,
	}
	if db, ok := out.Journal.Step(recovery.StepDatabase); ok && !db.End.IsZero() {
		a.DatabaseReady = k.AWS(db.End.Sub(out.Journal.Start))
	}
	if app, ok := out.Journal.Step(recovery.StepApp); ok && !app.Start.IsZero() {
		a.AppStart = k.AWS(app.Start.Sub(out.Journal.Start))
	}
	for _, p := range rep.Points {
		a.RPO = append(a.RPO, PointAge{Resource: p.Resource, ID: p.ID, Age: k.AWS(time.Duration(p.RPOSeconds * float64(time.Second)))})
	}
	return a, nil
}
