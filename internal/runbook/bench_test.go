package runbook

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// sleepGraph builds steps that each sleep their duration (ms).
func sleepGraph(b *testing.B, steps []struct {
	id    string
	ms    int
	needs []string
}) (*Graph, map[string]time.Duration) {
	var out []Step
	dur := map[string]time.Duration{}
	for _, s := range steps {
		d := time.Duration(s.ms) * time.Millisecond
		dur[s.id] = d
		out = append(out, Step{ID: s.id, Needs: s.needs, Run: func(ctx context.Context, _ *RunContext) (Outputs, error) {
			select {
			case <-time.After(d):
				return Outputs{"id": "x"}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}})
	}
	g, err := New(out...)
	if err != nil {
		b.Fatal(err)
	}
	return g, dur
}

// BenchmarkCriticalPath runs graphs of sleeping steps: the wall time is
// close to the critical path, not the sum of the steps.
//
//	go test ./internal/runbook -run '^$' -bench CriticalPath -benchtime 5x
func BenchmarkCriticalPath(b *testing.B) {
	type st = struct {
		id    string
		ms    int
		needs []string
	}
	graphs := []struct {
		name  string
		par   int
		steps []st
	}{
		// The failover's shape, with a restore that dominates.
		{"failover-shape", 8, []st{
			{"points", 20, nil}, {"network", 30, nil},
			{"db", 200, []string{"points", "network"}}, {"cache", 100, []string{"network"}},
			{"lb", 60, []string{"network"}}, {"lt", 20, []string{"db", "cache"}},
			{"app", 80, []string{"lt", "lb"}}, {"dns", 40, []string{"app", "lb"}},
		}},
		// Sixteen independent 50 ms steps, eight at a time: two waves.
		{"wide-16x50ms-par8", 8, func() []st {
			var s []st
			for i := 0; i < 16; i++ {
				s = append(s, st{fmt.Sprint("s", i), 50, nil})
			}
			return s
		}()},
	}
	for _, gr := range graphs {
		b.Run(gr.name, func(b *testing.B) {
			g, dur := sleepGraph(b, gr.steps)
			critical, _ := g.CriticalPath(dur)
			if gr.name == "wide-16x50ms-par8" {
				critical = 100 * time.Millisecond // the parallelism bound, not the graph, sets it
			}
			var sum time.Duration
			for _, d := range dur {
				sum += d
			}
			store := localStore(b)
			var wall time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				// A new kind each time: every iteration is a fresh run.
				if _, err := (&Runner{Store: store, Parallelism: gr.par}).Run(context.Background(), g, "bench", fmt.Sprint("k", n), nil); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start)
				n++
			}
			avg := wall / time.Duration(n)
			b.ReportMetric(float64(avg.Milliseconds()), "wall-ms")
			b.ReportMetric(float64(critical.Milliseconds()), "critical-ms")
			b.ReportMetric(float64(sum.Milliseconds()), "sum-ms")
			b.ReportMetric(float64(avg-critical)/float64(time.Millisecond), "overhead-ms")
		})
	}
}

// BenchmarkStepOverhead is the engine's own cost per step: a chain of
// no-op steps, each journalled twice (running, done) in the local store.
//
//	go test ./internal/runbook -run '^$' -bench StepOverhead -benchtime 5x
func BenchmarkStepOverhead(b *testing.B) {
	var steps []Step
	for i := 0; i < 50; i++ {
		s := Step{ID: fmt.Sprint("s", i), Run: noop}
		if i > 0 {
			s.Needs = []string{fmt.Sprint("s", i-1)}
		}
		steps = append(steps, s)
	}
	g, err := New(steps...)
	if err != nil {
		b.Fatal(err)
	}
	store := localStore(b)
	n := 0
	var wall time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := (&Runner{Store: store}).Run(context.Background(), g, "bench", fmt.Sprint("k", n), nil); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		n++
	}
	b.ReportMetric(float64(wall.Microseconds())/float64(n*len(steps))/1000, "ms/step")
}
