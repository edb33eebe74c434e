package recovery

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// BenchmarkFailoverCriticalPath injects the slow part of each restore as
// latency on the call that starts it (moto itself is never asynchronous)
// and compares failover wall time with the graph's critical path (of the
// injected latencies, and of the steps' measured durations) and with the
// seed's sequential sum. Run:
//
//	go test ./internal/recovery -run '^$' -bench FailoverCriticalPath -benchtime 3x
func BenchmarkFailoverCriticalPath(b *testing.B) {
	latency := map[string]time.Duration{
		"RestoreDBInstanceFromDBSnapshot": 3 * time.Second,
		"CreateReplicationGroup":          2 * time.Second,
		"CreateAutoScalingGroup":          1 * time.Second,
		"ChangeResourceRecordSets":        500 * time.Millisecond,
	}
	// The steps each latency lands in, for the critical path.
	stepOf := map[string]string{
		"RestoreDBInstanceFromDBSnapshot": StepDatabase, "CreateReplicationGroup": StepCache,
		"CreateAutoScalingGroup": StepApp, "ChangeResourceRecordSets": StepDNS,
	}
	moto := testenv.Shared(b)
	var sum time.Duration
	for _, d := range latency {
		sum += d
	}
	var walls, paths, measuredPaths []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		acct := moto.NewAccount(b)
		proxy, err := testenv.NewProxy(acct.URL, 1)
		if err != nil {
			b.Fatal(err)
		}
		env := testenv.AWS(b, proxy.URL)
		cfg := testConfig(b, "cn-north-1", "cn-northwest-1", spec.DNSUpsert)
		// The app boots beside the restore, as the reference stack's does.
		useHandoffTemplate(b, cfg)
		seedProduction(b, env, cfg)
		if _, err := Prepare(b.Context(), cfg, env); err != nil {
			b.Fatal(err)
		}
		for action, d := range latency {
			proxy.AddRule(testenv.Rule{Match: testenv.Match{Region: "", Action: action}, Latency: d})
		}
		store := openStore(b, cfg)
		r := New(cfg, env, Options{Wait: fastWait})
		g, err := r.Graph()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		j, err := (&runbook.Runner{Store: store, Parallelism: 8}).Run(b.Context(), g, cfg.Stack, KindFailover, nil)
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		durations := map[string]time.Duration{}
		for _, s := range j.Steps {
			durations[s.ID] = s.End.Sub(s.Start)
		}
		// The critical path of the injected latencies alone: what no
		// scheduler can beat.
		injected := map[string]time.Duration{}
		for action, d := range latency {
			injected[stepOf[action]] += d
		}
		path, _ := g.CriticalPath(injected)
		measured, _ := g.CriticalPath(durations)
		walls = append(walls, wall)
		paths = append(paths, path)
		measuredPaths = append(measuredPaths, measured)
		proxy.Close()
	}
	var w, p, m time.Duration
	for i := range walls {
		w += walls[i]
		p += paths[i]
		m += measuredPaths[i]
	}
	n := time.Duration(len(walls))
	b.ReportMetric((w / n).Seconds(), "wall-s")
	b.ReportMetric((p / n).Seconds(), "critical-path-s")
	b.ReportMetric(sum.Seconds(), "sequential-sum-s")
	b.ReportMetric((m / n).Seconds(), "measured-path-s")
	// wall/measured-path is the engine's own overhead: how much later than
	// its dependencies allow a step starts. wall/critical-path adds the
	// calls each step makes besides the injected latency.
	b.ReportMetric(float64(w)/float64(m), "wall/measured-path")
	b.ReportMetric(float64(w)/float64(p), "wall/critical-path")
}
