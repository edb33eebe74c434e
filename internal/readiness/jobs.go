package readiness

import (
	"context"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Engine is the copy engine of one database and why it is the one.
type Engine struct {
	Database string `json:"database"`
	points.EngineChoice
	// Resolved is false when the engine is auto and AWS was not asked
	// (validate, or no state store): Why then says what auto asks.
	Resolved bool `json:"resolved"`
}

// StaticEngine says, without calling AWS, which engine d uses: the
// configured one, or for auto the question auto asks and the rule it
// applies to the answer. validate states this; it stays offline.
func StaticEngine(cfg *spec.Config, d spec.Database) Engine {
	switch d.Engine {
	case "", points.EngineSnapshotCopy:
		return Engine{Database: d.ID, Resolved: true, EngineChoice: points.EngineChoice{Engine: points.EngineSnapshotCopy, Why: "configured (the default)"}}
	case points.EngineAWSBackup:
		return Engine{Database: d.ID, Resolved: true, EngineChoice: points.EngineChoice{Engine: points.EngineAWSBackup, Why: "configured"}}
	}
	return Engine{Database: d.ID, EngineChoice: points.EngineChoice{Engine: points.EngineAuto, Why: fmt.Sprintf(
		"asks RDS DescribeSourceRegions in %s whether it lists %s; snapshot-copy if it does, aws-backup if not (AWS documents no DB snapshot copy to or from Beijing or Ningxia; AWS Backup copies between them)",
		cfg.DR.Region, cfg.Primary.Region)}}
}

// Engines says which copy engine each database uses and why. With a state
// store auto is resolved (points.ResolveEngine asks DescribeSourceRegions
// in the DR region, or reuses the remembered answer); without one it is
// stated as StaticEngine does. A database whose auto cannot be resolved
// gets the static statement and the error in Why.
func Engines(ctx context.Context, env *awsenv.Env, cfg *spec.Config, store state.Store) []Engine {
	var out []Engine
	for _, d := range cfg.Protect.Databases {
		e := StaticEngine(cfg, d)
		if !e.Resolved && store != nil && env != nil {
			ch, err := points.ResolveEngine(ctx, env, cfg, store, d.ID)
			if err != nil {
				e.Why += fmt.Sprintf("; asking failed: %v", err)
			} else {
				e.EngineChoice, e.Resolved = ch, true
			}
		}
		out = append(out, e)
	}
	return out
}

// Job is a protect job as status shows it.
type Job struct {
	points.Job
	Age time.Duration `json:"age_ns"`
}

// Jobs reads the stack's protect jobs with their age at now.
func Jobs(ctx context.Context, store state.Store, stack string, now time.Time) ([]Job, error) {
	if store == nil {
		return nil, nil
	}
	jobs, err := points.Jobs(ctx, store, stack)
	if err != nil {
		return nil, err
	}
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		out[i] = Job{Job: j, Age: j.Age(now)}
	}
	return out, nil
}

// Describe says in words what a job is doing, e.g. "copying for 12m0s
// (point wordpress-db-20261207)".
func (j Job) Describe() string {
	s := fmt.Sprintf("%s for %s", j.Phase, j.Age.Round(time.Second))
	if j.Phase == points.PhaseFailed {
		s = fmt.Sprintf("failed after %s: %s", j.Age.Round(time.Second), j.Error)
	}
	if j.Point != "" {
		s += " (point " + j.Point + ")"
	}
	if j.Engine != "" {
		s += ", engine " + j.Engine
	}
	return s
}
