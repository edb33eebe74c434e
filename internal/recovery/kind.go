package recovery

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
)

// kind is one resource kind of the recovery plane (aws-nuke style: a file
// per kind, listed in registry). Its id is its step id in every graph, and
// the journal keeps its outputs as a string map, so a resumed run reads
// what an earlier one wrote.
type kind interface {
	ID() string
	// After lists the kinds whose outputs Create reads. A recovery runs
	// after those in use; teardown walks the same edges backwards.
	After() []string
	// Used reports whether r's config recovers this kind.
	Used(r *Recovery) bool
	Plan(r *Recovery) string
	Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error)
	// TeardownPlan says what Teardown deletes; "" leaves the kind out of
	// the teardown graph.
	TeardownPlan(r *Recovery, opts TeardownOptions) string
	Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error)
}

// verifier is a kind that checks, after a drill, what it built.
type verifier interface {
	Verify(ctx context.Context, r *Recovery, out journalOutputs, now time.Time) []report.Check
}

// registry lists the kinds in the order a person reads a recovery plan.
// Adding a kind is adding its file and one line here.
var registry = []kind{
	pointsKind{},
	networkKind{},
	databaseKind{},
	cacheKind{},
	loadBalancerKind{},
	launchTemplateKind{},
	appKind{},
	handoffKind{},
	egressKind{},
	dnsKind{},
}

// createSteps are the steps of r's recovery: one per kind in use, after the
// kinds in use it reads from.
func (r *Recovery) createSteps() []runbook.Step {
	used := map[string]bool{}
	for _, k := range registry {
		used[k.ID()] = k.Used(r)
	}
	var steps []runbook.Step
	for _, k := range registry {
		if !used[k.ID()] {
			continue
		}
		var needs []string
		for _, a := range k.After() {
			if used[a] {
				needs = append(needs, a)
			}
		}
		steps = append(steps, runbook.Step{ID: k.ID(), Needs: needs, Plan: k.Plan(r), Run: func(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
			return k.Create(ctx, r, rc)
		}})
	}
	return steps
}

// teardownSteps walk the kinds backwards: a kind is deleted once every
// kind that reads its outputs is gone. Every kind with something to delete
// takes part whatever the config says now, since an earlier config may
// have made it.
func (r *Recovery) teardownSteps(opts TeardownOptions) []runbook.Step {
	in := map[string]bool{}
	for _, k := range registry {
		in[k.ID()] = k.TeardownPlan(r, opts) != ""
	}
	var steps []runbook.Step
	for _, k := range slices.Backward(registry) {
		if !in[k.ID()] {
			continue
		}
		var needs []string
		for _, later := range registry {
			if in[later.ID()] && slices.Contains(later.After(), k.ID()) {
				needs = append(needs, later.ID())
			}
		}
		steps = append(steps, runbook.Step{ID: k.ID(), Needs: needs, Plan: k.TeardownPlan(r, opts), Run: func(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
			return k.Teardown(ctx, r, opts)
		}})
	}
	return steps
}

// noTeardown is for kinds that leave nothing behind.
type noTeardown struct{}

func (noTeardown) TeardownPlan(*Recovery, TeardownOptions) string { return "" }
func (noTeardown) Teardown(context.Context, *Recovery, TeardownOptions) (runbook.Outputs, error) {
	return nil, nil
}

// journalOutputs are a finished run's outputs by step id.
type journalOutputs map[string]runbook.Outputs

func outputsOfJournal(j *runbook.Journal) journalOutputs {
	out := journalOutputs{}
	for _, s := range j.Steps {
		out[s.ID] = s.Outputs
	}
	return out
}

// outputs builds a step's journal map from key/value pairs, leaving out
// empty values so that a reader sees "" for a value never set either way.
func outputs(kv ...string) runbook.Outputs {
	out := runbook.Outputs{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// endpointOut is what a kind reached over the network hands on: its id
// and endpoint, under keys named prefix_id, prefix_host, prefix_port.
type endpointOut struct {
	ID, Host string
	Port     int
}

func (o endpointOut) outputs(prefix string) runbook.Outputs {
	return outputs(prefix+"_id", o.ID, prefix+"_host", o.Host, prefix+"_port", strconv.Itoa(o.Port))
}

func endpointOf(o runbook.Outputs, prefix string) endpointOut {
	return endpointOut{ID: o[prefix+"_id"], Host: o[prefix+"_host"], Port: atoi(o[prefix+"_port"])}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
