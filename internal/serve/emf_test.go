package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// emfLine is what CloudWatch reads of an embedded-metric-format line.
type emfLine struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct{ Name, Unit string }
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
	Stack, Resource, Phase string
	values                 map[string]any
}

// readEMF parses the lines and checks the rules CloudWatch applies: every
// declared metric and dimension is a top-level member, metrics are numbers.
func readEMF(t *testing.T, out []byte) map[string]emfLine {
	t.Helper()
	lines := map[string]emfLine{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l emfLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		_ = json.Unmarshal(sc.Bytes(), &l.values)
		if len(l.AWS.CloudWatchMetrics) != 1 || l.AWS.Timestamp == 0 {
			t.Fatalf("no _aws directive: %s", sc.Text())
		}
		d := l.AWS.CloudWatchMetrics[0]
		if d.Namespace != MetricNamespace || len(d.Dimensions) != 1 {
			t.Fatalf("directive: %s", sc.Text())
		}
		for _, dim := range d.Dimensions[0] {
			if _, ok := l.values[dim].(string); !ok {
				t.Errorf("dimension %s is not a string member: %s", dim, sc.Text())
			}
		}
		for _, m := range d.Metrics {
			if _, ok := l.values[m.Name].(float64); !ok {
				t.Errorf("metric %s is not a number member: %s", m.Name, sc.Text())
			}
		}
		lines[l.Resource] = l
	}
	return lines
}

// TestLambdaCycleWritesEMF: a Lambda-mode cycle writes, per resource, the
// RPO, the job's phase and failures, and for buckets the verify result, as
// EMF lines on the function's output (no CloudWatch API call).
func TestLambdaCycleWritesEMF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var out bytes.Buffer
	l := &Lambda{Jobs: f.jobs(t), Runner: f.runner(), Store: f.store, Metrics: &EMF{Stack: "wordpress", W: &out}}
	h := lambda.NewHandler(l.Handle)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ev := range []string{`{"action":"backup"}`, `{"action":"verify"}`} {
		if _, err := h.Invoke(ctx, []byte(ev)); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
	}
	lines := readEMF(t, out.Bytes())
	db, ok := lines["wordpress-db"]
	if !ok || db.Stack != "wordpress" || db.Phase != PhaseCompleted || db.values[MetricFailures] != 0.0 {
		t.Fatalf("database line: %+v\n%s", db, out.String())
	}
	// The copy was just made: its age is the RPO, and it is small.
	if rpo, ok := db.values[MetricRPO].(float64); !ok || rpo < 0 || rpo > 120 {
		t.Errorf("database RPO %v", db.values[MetricRPO])
	}
	media, ok := lines["media"]
	if !ok || media.values[MetricVerifyConverged] != 1.0 || media.values[MetricMissing] != 0.0 || media.values[MetricFailures] != 0.0 {
		t.Fatalf("bucket line: %+v\n%s", media.values, out.String())
	}
	if _, ok := media.values[MetricRPO]; ok {
		t.Errorf("a bucket has no DR copy age, got %v", media.values[MetricRPO])
	}

	if db.values[MetricConsecutiveFailures] != 0.0 {
		t.Errorf("a success has a failure streak: %v", db.values[MetricConsecutiveFailures])
	}

	// A failing run counts as a failure, with its phase; the second in a
	// row (the first is in the state store) is a streak of two, which the
	// alarm deploy makes fires on; a success ends it.
	bad := &Lambda{Jobs: f.jobs(t), Runner: failing{}, Store: f.store, Metrics: &EMF{Stack: "wordpress", W: &out}}
	for want := 1.0; want <= 2; want++ {
		out.Reset()
		if _, err := bad.Handle(ctx, Event{Action: ActionBackup}); err == nil {
			t.Fatal("a failing run did not fail the invocation")
		}
		l := readEMF(t, out.Bytes())["wordpress-db"]
		if l.Phase != PhaseFailed || l.values[MetricFailures] != 1.0 || l.values[MetricConsecutiveFailures] != want {
			t.Fatalf("failed run %v: %s", want, out.String())
		}
	}
	out.Reset()
	if _, err := h.Invoke(ctx, []byte(`{"action":"backup"}`)); err != nil {
		t.Fatal(err)
	}
	if l := readEMF(t, out.Bytes())["wordpress-db"]; l.values[MetricConsecutiveFailures] != 0.0 {
		t.Fatalf("success after failures: %s", out.String())
	}
}

type failing struct{}

func (failing) Run(_ context.Context, j Job, tr Trigger) Result {
	trigger := tr.Name
	now := time.Now()
	return Result{Resource: j.Resource, Kind: j.Kind, Trigger: trigger, Started: now, Ended: now, Error: errors.New("AccessDenied").Error()}
}
