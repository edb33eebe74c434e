package points

import (
	"context"
	"fmt"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

// The journal fields that name the points an operation restores from. They
// are written by recovery's points step (internal/recovery/kind_points.go)
// and by the CLI's --point; points reads them rather than importing
// recovery, which imports points.
const (
	inUseStep = "points"
	inUseMeta = "point"
)

var inUseOutputs = []string{"db_point", "ami"}

// InUse returns the ids of the points that an unfinished failover, drill or
// failback of stack restores from, as its journal in store records them: the
// points step's chosen DB point and AMI, and a point named with --point.
// Unfinished includes failed and crashed runs, since resuming one restores
// from the same point; an abandoned or done run holds nothing.
//
// A run that has not yet chosen its points holds nothing: it will choose
// the newest available DR copy, which retention never deletes anyway.
func InUse(ctx context.Context, store state.Store, stack string) ([]string, error) {
	runs, err := runbook.List(ctx, store, stack)
	if err != nil {
		return nil, fmt.Errorf("points in use by stack %s: %w", stack, err)
	}
	var out []string
	for _, j := range runs {
		if j.Phase.Finished() {
			continue
		}
		if id := j.Meta[inUseMeta]; id != "" {
			out = append(out, id)
		}
		if s, ok := j.Step(inUseStep); ok {
			for _, k := range inUseOutputs {
				if id := s.Outputs[k]; id != "" {
					out = append(out, id)
				}
			}
		}
	}
	return out, nil
}
