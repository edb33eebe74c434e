package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// CloudWatch names of the per-resource metrics. Lambda writes them as
// embedded-metric-format log lines, which CloudWatch Logs turns into
// metrics with no API call in the run; `deploy` alarms on the same names.
const (
	MetricNamespace = "Pilotlight"
	// MetricRPO is the age of the newest finished DR copy at the end of a
	// run: the data a failover would lose then. Databases and images.
	MetricRPO = "RPOSeconds"
	// MetricFailures is 1 for a run that failed or was interrupted, else 0.
	MetricFailures = "JobFailures"
	// MetricConsecutiveFailures is the run's failure streak: 0 after a
	// success, 2 on the second failed run in a row.
	MetricConsecutiveFailures = "ConsecutiveFailures"
	// MetricVerifyConverged is 1 when the bucket's last verify found the
	// replica equal to the source.
	MetricVerifyConverged = "BucketVerifyConverged"
	MetricPending         = "BucketPendingObjects"
	MetricMissing         = "BucketMissingObjects"
	MetricLag             = "BucketReplicationLagSeconds"
	// DimensionStack and DimensionResource are every metric's dimensions.
	DimensionStack    = "Stack"
	DimensionResource = "Resource"
)

// Phases of a run, as the EMF line's Phase property says.
const (
	PhaseCompleted   = "Completed"
	PhaseFailed      = "Failed"
	PhaseInterrupted = "Interrupted"
)

// Phase is r's outcome in one word.
func (r Result) Phase() string {
	switch {
	case r.Interrupted:
		return PhaseInterrupted
	case !r.OK:
		return PhaseFailed
	}
	return PhaseCompleted
}

// EMF writes one embedded-metric-format line per finished run. Lines from
// concurrent runs do not interleave.
type EMF struct {
	Stack string
	W     io.Writer
	mu    sync.Mutex
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Write emits r's metrics. A nil EMF or writer writes nothing.
func (e *EMF) Write(r Result) error {
	if e == nil || e.W == nil {
		return nil
	}
	line := map[string]any{
		DimensionStack:    e.Stack,
		DimensionResource: r.Resource,
		"Kind":            r.Kind,
		"Phase":           r.Phase(),
		"Trigger":         r.Trigger,
	}
	if r.JobPhase != "" {
		line["JobPhase"] = r.JobPhase
	}
	var metrics []emfMetric
	add := func(name, unit string, v float64) {
		line[name] = v
		metrics = append(metrics, emfMetric{Name: name, Unit: unit})
	}
	failed := 0.0
	if !r.OK {
		failed = 1
		line["Error"] = r.Error
	}
	add(MetricFailures, "Count", failed)
	add(MetricConsecutiveFailures, "Count", float64(r.ConsecutiveFailures))
	if !r.NewestDR.IsZero() {
		add(MetricRPO, "Seconds", r.Ended.Sub(r.NewestDR).Round(time.Second).Seconds())
		line["NewestDR"] = r.NewestDRID
	}
	if v := r.Verify; v != nil {
		conv := 0.0
		if v.Converged {
			conv = 1
		}
		add(MetricVerifyConverged, "None", conv)
		add(MetricPending, "Count", float64(v.Pending))
		add(MetricMissing, "Count", float64(v.Missing+v.Different))
		add(MetricLag, "Seconds", v.Lag.Round(time.Second).Seconds())
	}
	ended := r.Ended
	if ended.IsZero() {
		ended = time.Now()
	}
	line["_aws"] = map[string]any{
		"Timestamp": ended.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricNamespace,
			"Dimensions": [][]string{{DimensionStack, DimensionResource}},
			"Metrics":    metrics,
		}},
	}
	data, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("metrics of %s: %w", r.Resource, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.W.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("metrics of %s: %w", r.Resource, err)
	}
	return nil
}
