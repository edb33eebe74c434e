package runbook

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a strings.Builder safe for the live view's ticker.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func progressRun(t *testing.T, sink func(Event)) {
	t.Helper()
	rec := newRecorder()
	rec.fail["db"] = errors.New("InsufficientDBInstanceCapacity")
	g := mustGraph(t, rec.step("network"), rec.step("db", "network"), rec.step("app", "db"))
	_, _ = (&Runner{Store: localStore(t), Events: sink}).Run(context.Background(), g, "wordpress", "drill", nil)
}

func TestJSONProgress(t *testing.T) {
	var buf syncBuffer
	progressRun(t, NewProgress(&buf, true, false))
	var got []string
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var e wireEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", sc.Text(), err)
		}
		if e.Run == "" || e.Time.IsZero() {
			t.Fatalf("event lacks run or time: %q", sc.Text())
		}
		got = append(got, firstOf(e.Step, "run")+":"+string(e.Phase))
		if e.Step == "db" && e.Phase == PhaseFailed && e.Error != "InsufficientDBInstanceCapacity" {
			t.Errorf("failure without its error: %q", sc.Text())
		}
		if e.Final && e.Phase != PhaseFailed {
			t.Errorf("final event: %q", sc.Text())
		}
	}
	want := "run:running network:pending db:pending app:pending network:running network:done db:running db:failed app:skipped run:failed"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s", strings.Join(got, " "))
	}
}

func TestTextProgress(t *testing.T) {
	var buf syncBuffer
	progressRun(t, NewProgress(&buf, false, false))
	out := buf.String()
	for _, want := range []string{"network: running", "network: done after", "db: failed after", "InsufficientDBInstanceCapacity",
		"app: skipped (not run: step db failed)", ": failed after"} {
		if !strings.Contains(out, want) {
			t.Errorf("text progress lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape codes in non-terminal output")
	}
	if line := textLine(Event{Step: "db", Phase: PhaseRunning, Heartbeat: true, Elapsed: time.Minute}); line != "db: still running... [1m0s elapsed]" {
		t.Errorf("heartbeat line %q", line)
	}
}

func TestLiveView(t *testing.T) {
	var buf syncBuffer
	v := NewLiveView(&buf, time.Hour)
	progressRun(t, v.Event)
	out := buf.String()
	if !strings.Contains(out, "\x1b[2K") || !strings.Contains(out, "\x1b[4A") {
		t.Fatalf("not redrawn in place: %q", out)
	}
	// The last frame is the final state of every step.
	frames := strings.Split(out, "\x1b[4A")
	last := frames[len(frames)-1]
	for _, want := range []string{": failed after", "network  done", "db       failed", "InsufficientDBInstanceCapacity", "app      skipped   not run: step db failed"} {
		if !strings.Contains(last, want) {
			t.Errorf("last frame lacks %q:\n%s", want, last)
		}
	}
	// A running step shows its elapsed time, as Terraform does.
	v2 := NewLiveView(&buf, time.Hour)
	now := time.Now()
	v2.Event(Event{RunID: "r", Phase: PhaseRunning, Time: now})
	v2.Event(Event{RunID: "r", Step: "db", Phase: PhaseRunning, Time: now, Elapsed: time.Minute})
	if line := v2.stepLine("db", 2, now); !strings.Contains(line, "running   [1m0s elapsed]") {
		t.Errorf("running line %q", line)
	}
	v2.Event(Event{RunID: "r", Phase: PhaseDone, Final: true, Time: now})
}
