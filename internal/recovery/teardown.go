package recovery

import (
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
)

// TeardownOptions shape a teardown.
type TeardownOptions struct {
	// Network also deletes what `prepare` made.
	Network bool
	// SkipFinalSnapshot deletes the recovered DB without a final snapshot
	// (drills always skip it: their DB is a copy of a copy).
	SkipFinalSnapshot bool
	// Force tears down even while the production record points at the DR
	// load balancer.
	Force bool
	Now   func() time.Time
}

// TeardownGraph deletes exactly what this kind of operation created, in
// reverse dependency order: the registered kinds walked backwards. Each
// step finds its resource by name, checks that it carries the stack's tags
// for this operation kind, deletes it and waits; a resource already gone
// is success, so the graph resumes cleanly.
func (r *Recovery) TeardownGraph(opts TeardownOptions) (*runbook.Graph, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return runbook.New(r.teardownSteps(opts)...)
}
