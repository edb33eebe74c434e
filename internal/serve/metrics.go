package serve

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the daemon's Prometheus series, in a registry of their own
// so that tests and two daemons in one process never collide.
type Metrics struct {
	Registry *prometheus.Registry

	lastRun     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	nextRun     *prometheus.GaugeVec
	inProgress  *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	streak      *prometheus.GaugeVec
	skipped     *prometheus.CounterVec
	cycle       *prometheus.HistogramVec
	converged   *prometheus.GaugeVec
	pending     *prometheus.GaugeVec
	missing     *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	lastVerify  *prometheus.GaugeVec
	drAge       *drAgeCollector
}

// cycleBuckets span a small snapshot copied in seconds to a large one
// copied across regions in a day.
var cycleBuckets = []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400}

// NewMetrics makes the series for stack; now is the clock of the DR point
// age, computed at scrape time so that it grows between runs.
func NewMetrics(stack string, now func() time.Time) *Metrics {
	cl := prometheus.Labels{"stack": stack}
	rk := []string{"resource", "kind"}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pilotlight", Name: name, Help: help, ConstLabels: cl}, labels)
	}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pilotlight", Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Metrics{
		Registry:    prometheus.NewRegistry(),
		lastRun:     g("last_run_timestamp_seconds", "When the resource's last run ended (Unix time).", rk...),
		lastSuccess: g("last_success_timestamp_seconds", "When the resource's last successful run ended (Unix time).", rk...),
		nextRun:     g("next_run_timestamp_seconds", "When the resource's next run is due, jitter included (Unix time).", rk...),
		inProgress:  g("run_in_progress", "1 while a run of the resource is in progress.", rk...),
		runs:        c("runs_total", "Runs by result: success, failure or interrupted.", "resource", "kind", "result"),
		failures:    c("failures_total", "Runs that failed or were interrupted.", rk...),
		streak:      g("consecutive_failures", "Failed runs in a row up to the last run (0 after a success).", rk...),
		skipped:     c("skipped_runs_total", "Scheduled fire times missed because the previous run was still going.", rk...),
		cycle: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pilotlight", Name: "copy_duration_seconds", ConstLabels: cl, Buckets: cycleBuckets,
			Help: "Time of a protect cycle that ended with a DR copy: point, cross-region copy, prune.",
		}, rk),
		converged:  g("bucket_verify_converged", "1 when the last verify found the replica equal to the source.", "bucket"),
		pending:    g("bucket_pending_objects", "Objects whose replication status was PENDING at the last verify.", "bucket"),
		missing:    g("bucket_missing_objects", "Source objects missing or different in the replica at the last verify.", "bucket"),
		lag:        g("bucket_replication_lag_seconds", "Age of the oldest object still pending replication at the last verify.", "bucket"),
		lastVerify: g("bucket_last_verify_timestamp_seconds", "When the bucket was last verified (Unix time).", "bucket"),
		drAge: &drAgeCollector{now: now, created: map[[2]string]time.Time{}, desc: prometheus.NewDesc(
			"pilotlight_newest_dr_point_age_seconds", "Age of the newest available DR recovery point's data.", rk, cl)},
	}
	m.Registry.MustRegister(m.lastRun, m.lastSuccess, m.nextRun, m.inProgress, m.runs, m.failures, m.streak, m.skipped, m.cycle,
		m.converged, m.pending, m.missing, m.lag, m.lastVerify, m.drAge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe folds one finished run into the series.
func (m *Metrics) Observe(r Result) {
	l := prometheus.Labels{"resource": r.Resource, "kind": r.Kind}
	m.lastRun.With(l).Set(unix(r.Ended))
	result := "success"
	switch {
	case r.Interrupted:
		result = "interrupted"
	case !r.OK:
		result = "failure"
	}
	m.runs.WithLabelValues(r.Resource, r.Kind, result).Inc()
	m.streak.With(l).Set(float64(r.ConsecutiveFailures))
	if r.OK {
		m.lastSuccess.With(l).Set(unix(r.Ended))
	} else {
		m.failures.With(l).Inc()
	}
	if r.OK && r.Copied != "" && r.CycleDuration > 0 {
		m.cycle.With(l).Observe(r.CycleDuration.Seconds())
	}
	if !r.NewestDR.IsZero() {
		m.drAge.set(r.Resource, r.Kind, r.NewestDR)
	}
	if v := r.Verify; v != nil {
		b := prometheus.Labels{"bucket": r.Resource}
		conv := 0.0
		if v.Converged {
			conv = 1
		}
		m.converged.With(b).Set(conv)
		m.pending.With(b).Set(float64(v.Pending))
		m.missing.With(b).Set(float64(v.Missing + v.Different))
		m.lag.With(b).Set(v.Lag.Seconds())
		m.lastVerify.With(b).Set(unix(r.Ended))
	}
}

// Restore seeds the series from a run recorded by an earlier process, so
// that a restart does not reset the last-success time to nothing. Counters
// and histograms start from zero, as Prometheus expects of a new process.
func (m *Metrics) Restore(r Result) {
	l := prometheus.Labels{"resource": r.Resource, "kind": r.Kind}
	m.lastRun.With(l).Set(unix(r.Ended))
	m.streak.With(l).Set(float64(r.ConsecutiveFailures))
	if r.OK {
		m.lastSuccess.With(l).Set(unix(r.Ended))
	}
	if !r.NewestDR.IsZero() {
		m.drAge.set(r.Resource, r.Kind, r.NewestDR)
	}
}

func (m *Metrics) running(j Job, on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.inProgress.WithLabelValues(j.Resource, j.Kind).Set(v)
}

func (m *Metrics) next(j Job, t time.Time) {
	m.nextRun.WithLabelValues(j.Resource, j.Kind).Set(unix(t))
}

func (m *Metrics) skip(j Job, n int) {
	if n > 0 {
		m.skipped.WithLabelValues(j.Resource, j.Kind).Add(float64(n))
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// drAgeCollector reports now minus the newest DR point's time at scrape.
type drAgeCollector struct {
	now     func() time.Time
	desc    *prometheus.Desc
	mu      sync.Mutex
	created map[[2]string]time.Time
}

func (c *drAgeCollector) set(resource, kind string, t time.Time) {
	c.mu.Lock()
	c.created[[2]string{resource, kind}] = t
	c.mu.Unlock()
}

func (c *drAgeCollector) age(resource, kind string) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.created[[2]string{resource, kind}]
	if !ok {
		return 0, false
	}
	return c.now().Sub(t), true
}

func (c *drAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *drAgeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, t := range c.created {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1])
	}
}
