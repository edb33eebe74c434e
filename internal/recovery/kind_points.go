package recovery

import (
	"context"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
)

// StepPoints is the points kind's step id.
const StepPoints = "points"

// pointsKind chooses the recovery points the other kinds restore from: the
// DB snapshot and the AMI. It creates nothing, so teardown skips it.
type pointsKind struct{ noTeardown }

// pointsOut is what the points step hands on.
type pointsOut struct {
	DBPoint, DBPointTime, DBEngine string
	DBKind                         points.Kind
	AMI, AMIPointTime              string
}

func (o pointsOut) outputs() runbook.Outputs {
	return outputs("db_point", o.DBPoint, "db_point_time", o.DBPointTime, "db_engine", o.DBEngine, "db_kind", string(o.DBKind),
		"ami", o.AMI, "ami_point_time", o.AMIPointTime)
}

func pointsOf(o runbook.Outputs) pointsOut {
	return pointsOut{DBPoint: o["db_point"], DBPointTime: o["db_point_time"], DBEngine: o["db_engine"], DBKind: points.Kind(o["db_kind"]),
		AMI: o["ami"], AMIPointTime: o["ami_point_time"]}
}

func (pointsKind) ID() string            { return StepPoints }
func (pointsKind) After() []string       { return nil }
func (pointsKind) Used(r *Recovery) bool { return true }

func (pointsKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "use the copied-back snapshot and the primary AMI"
	}
	var parts []string
	if d := r.cfg.Recover.Database; d != nil {
		if r.opts.PointID != "" {
			parts = append(parts, "DB point "+r.opts.PointID)
		} else {
			parts = append(parts, "newest available DR copy of "+d.From)
		}
	}
	if a := r.cfg.Recover.App; a != nil {
		parts = append(parts, "newest available DR AMI of "+a.ImageFrom)
	}
	return "choose " + strings.Join(parts, " and ") + " in " + r.cfg.DR.Region
}

func (pointsKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	if r.opts.Kind == KindFailback {
		return failbackPoints(r, rc).outputs(), nil
	}
	db, image, err := r.ChosenPoints(ctx)
	if err != nil {
		return nil, err
	}
	var out pointsOut
	if db != nil {
		out.DBPoint, out.DBPointTime, out.DBEngine, out.DBKind = db.ID, db.Created.UTC().Format(time.RFC3339), db.Engine, db.Kind
	}
	if image != nil {
		out.AMI, out.AMIPointTime = image.ID, image.Created.UTC().Format(time.RFC3339)
	}
	return out.outputs(), nil
}
