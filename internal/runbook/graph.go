// Package runbook runs a graph of steps: each starts as soon as the steps it
// needs are done, as many at once as a bound allows, and every phase change
// is written to a journal in the state store as it happens, so a crashed or
// failed run resumes where it stopped and a person can read what happened.
// It knows nothing of AWS: the steps (package recovery) do the work and must
// be idempotent, finding their resource by name or tag before creating one.
package runbook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Outputs are what a step hands to the steps after it (ids, endpoints).
type Outputs map[string]string

// Step is one node of the graph.
type Step struct {
	ID    string
	Needs []string
	// Plan is one line saying what the step will do, for `plan`.
	Plan string
	Run  func(ctx context.Context, rc *RunContext) (Outputs, error)
}

// Graph is a validated, acyclic set of steps.
type Graph struct {
	steps []Step // topological order
	index map[string]int
}

// New checks the steps and orders them. An empty or duplicate id, a
// dependency on an unknown step and a cycle are errors naming them.
func New(steps ...Step) (*Graph, error) {
	declared := make(map[string]int, len(steps))
	var problems []string
	for i, s := range steps {
		switch _, dup := declared[s.ID]; {
		case s.ID == "":
			problems = append(problems, fmt.Sprintf("step %d has no id", i+1))
		case dup:
			problems = append(problems, fmt.Sprintf("step %q is declared twice", s.ID))
		default:
			declared[s.ID] = i
		}
	}
	for _, s := range steps {
		for _, n := range s.Needs {
			if _, ok := declared[n]; !ok {
				problems = append(problems, fmt.Sprintf("step %q needs unknown step %q", s.ID, n))
			} else if n == s.ID {
				problems = append(problems, fmt.Sprintf("step %q needs itself", s.ID))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("runbook: %s", strings.Join(problems, "; "))
	}
	order, cycle := topo(steps, declared)
	if cycle != nil {
		return nil, fmt.Errorf("runbook: dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	g := &Graph{index: make(map[string]int, len(steps))}
	for i, idx := range order {
		s := steps[idx]
		s.Needs = append([]string(nil), s.Needs...)
		g.steps = append(g.steps, s)
		g.index[s.ID] = i
	}
	return g, nil
}

// topo is Kahn's algorithm taking, among the ready steps, the one declared
// first, so the order is stable and reads like the declaration. When steps
// remain it returns one cycle among them.
func topo(steps []Step, declared map[string]int) (order []int, cycle []string) {
	indeg := make([]int, len(steps))
	dependants := make([][]int, len(steps))
	for i, s := range steps {
		seen := map[string]bool{}
		for _, n := range s.Needs {
			if seen[n] {
				continue
			}
			seen[n] = true
			indeg[i]++
			dependants[declared[n]] = append(dependants[declared[n]], i)
		}
	}
	var ready []int
	for i := range steps {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, d := range dependants[i] {
			if indeg[d]--; indeg[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(order) == len(steps) {
		return order, nil
	}
	return nil, findCycle(steps, declared, indeg)
}

// findCycle walks needs from a step left with unmet dependencies; every
// such step needs another such step, so the walk must revisit one.
func findCycle(steps []Step, declared map[string]int, indeg []int) []string {
	start := -1
	for i := range steps {
		if indeg[i] > 0 {
			start = i
			break
		}
	}
	pos := map[int]int{}
	var path []int
	for i := start; ; {
		if p, ok := pos[i]; ok {
			var ids []string
			for _, j := range path[p:] {
				ids = append(ids, steps[j].ID)
			}
			return append(ids, steps[i].ID)
		}
		pos[i] = len(path)
		path = append(path, i)
		for _, n := range steps[i].Needs {
			if j := declared[n]; indeg[j] > 0 {
				i = j
				break
			}
		}
	}
}

// Steps returns the steps in topological order (stable: ties keep the
// declaration order).
func (g *Graph) Steps() []Step { return append([]Step(nil), g.steps...) }

// Step returns the step with id.
func (g *Graph) Step(id string) (Step, bool) {
	i, ok := g.index[id]
	if !ok {
		return Step{}, false
	}
	return g.steps[i], true
}

// CriticalPath returns the longest chain of dependent steps, weighting
// each by durations (missing steps weigh nothing): with unlimited
// parallelism no run can be shorter.
func (g *Graph) CriticalPath(durations map[string]time.Duration) (time.Duration, []string) {
	finish := make([]time.Duration, len(g.steps))
	prev := make([]int, len(g.steps))
	best := -1
	for i, s := range g.steps {
		prev[i] = -1
		var start time.Duration
		for _, n := range s.Needs {
			if j := g.index[n]; finish[j] > start || prev[i] == -1 && finish[j] == start {
				start, prev[i] = finish[j], j
			}
		}
		finish[i] = start + durations[s.ID]
		if best == -1 || finish[i] > finish[best] {
			best = i
		}
	}
	if best == -1 {
		return 0, nil
	}
	var path []string
	for i := best; i != -1; i = prev[i] {
		path = append(path, g.steps[i].ID)
	}
	for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
		path[l], path[r] = path[r], path[l]
	}
	return finish[best], path
}

// PlannedStep is one step as `plan --output json` shows it.
type PlannedStep struct {
	ID    string   `json:"id"`
	Needs []string `json:"needs,omitempty"`
	// Wave is the step's depth: steps of one wave can run together.
	Wave int    `json:"wave"`
	Plan string `json:"plan"`
}

// Plan describes the graph for `plan`: it runs nothing.
func (g *Graph) Plan() []PlannedStep {
	wave := make([]int, len(g.steps))
	out := make([]PlannedStep, len(g.steps))
	for i, s := range g.steps {
		for _, n := range s.Needs {
			wave[i] = max(wave[i], wave[g.index[n]]+1)
		}
		out[i] = PlannedStep{ID: s.ID, Needs: append([]string(nil), s.Needs...), Wave: wave[i] + 1, Plan: s.Plan}
	}
	return out
}

// PlanText renders the graph for `plan`: steps in order, grouped by the
// wave in which they can start, each with what it needs and what it will
// do. It runs nothing and takes no lock.
func (g *Graph) PlanText(w io.Writer) {
	plan := g.Plan()
	width := 0
	for _, p := range plan {
		width = max(width, len(p.ID))
	}
	waves := 0
	for _, p := range plan {
		waves = max(waves, p.Wave)
	}
	fmt.Fprintf(w, "%d steps in %d waves (steps of a wave run in parallel):\n", len(plan), waves)
	for wv := 1; wv <= waves; wv++ {
		fmt.Fprintf(w, "wave %d\n", wv)
		for _, p := range plan {
			if p.Wave != wv {
				continue
			}
			line := fmt.Sprintf("  %-*s  %s", width, p.ID, p.Plan)
			if len(p.Needs) > 0 {
				line += "  (after " + strings.Join(p.Needs, ", ") + ")"
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	_, path := g.CriticalPath(unitDurations(g))
	if len(path) > 1 {
		fmt.Fprintf(w, "longest chain: %s\n", strings.Join(path, " -> "))
	}
}

func unitDurations(g *Graph) map[string]time.Duration {
	d := make(map[string]time.Duration, len(g.steps))
	for _, s := range g.steps {
		d[s.ID] = 1
	}
	return d
}

// discard is the logger of a Runner without one.
var discard = slog.New(slog.DiscardHandler)
