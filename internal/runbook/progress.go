package runbook

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// NewProgress returns a Runner.Events sink: JSON lines (one per event) when
// json is set; otherwise a live view redrawn in place on a terminal, or
// one plain line per change when the output is a file or pipe.
func NewProgress(w io.Writer, json bool, tty bool) func(Event) {
	switch {
	case json:
		return jsonProgress(w)
	case tty:
		return NewLiveView(w, time.Second).Event
	default:
		return textProgress(w)
	}
}

// wireEvent is an Event as one JSON line.
type wireEvent struct {
	Time      time.Time `json:"time"`
	Run       string    `json:"run"`
	Step      string    `json:"step,omitempty"`
	Phase     Phase     `json:"phase"`
	Error     string    `json:"error,omitempty"`
	Elapsed   float64   `json:"elapsed_seconds"`
	Attempt   int       `json:"attempt,omitempty"`
	Heartbeat bool      `json:"heartbeat,omitempty"`
	Final     bool      `json:"final,omitempty"`
	Note      string    `json:"note,omitempty"`
}

func jsonProgress(w io.Writer) func(Event) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(wireEvent{Time: e.Time.UTC(), Run: e.RunID, Step: e.Step, Phase: e.Phase, Error: e.Error,
			Elapsed: e.Elapsed.Round(time.Millisecond).Seconds(), Attempt: e.Attempt, Heartbeat: e.Heartbeat, Final: e.Final, Note: e.Note})
	}
}

func textProgress(w io.Writer) func(Event) {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if line := textLine(e); line != "" {
			fmt.Fprintf(w, "%s %s\n", e.Time.Format("15:04:05"), line)
		}
	}
}

// textLine says what changed, in Terraform's manner; pending steps are
// not news.
func textLine(e Event) string {
	el := fmtElapsed(e.Elapsed)
	if e.Step == "" {
		switch {
		case e.Final && e.Error != "":
			return fmt.Sprintf("run %s: %s after %s: %s", e.RunID, e.Phase, el, e.Error)
		case e.Final:
			return fmt.Sprintf("run %s: %s in %s", e.RunID, e.Phase, el)
		}
		return fmt.Sprintf("run %s: %s", e.RunID, firstOf(e.Note, string(e.Phase)))
	}
	switch e.Phase {
	case PhasePending:
		return ""
	case PhaseRunning:
		if e.Heartbeat {
			return fmt.Sprintf("%s: still running... [%s elapsed]", e.Step, el)
		}
		if e.Note != "" {
			return fmt.Sprintf("%s: running (%s)", e.Step, e.Note)
		}
		return e.Step + ": running"
	case PhaseDone:
		if e.Note != "" {
			return fmt.Sprintf("%s: done (%s)", e.Step, e.Note)
		}
		return fmt.Sprintf("%s: done after %s", e.Step, el)
	case PhaseSkipped:
		return fmt.Sprintf("%s: skipped (%s)", e.Step, e.Error)
	default:
		return fmt.Sprintf("%s: %s after %s: %s", e.Step, e.Phase, el, e.Error)
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fmtElapsed prints whole seconds past ten seconds, as Terraform does.
func fmtElapsed(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// LiveView redraws the run's steps in place on a terminal, updating
// running steps' elapsed time every tick, until the run's final event.
type LiveView struct {
	w     io.Writer
	tick  time.Duration
	mu    sync.Mutex
	runID string
	run   viewLine
	order []string
	steps map[string]*viewLine
	drawn int
	stop  chan struct{}
}

type viewLine struct {
	phase   Phase
	started time.Time // when elapsed counts from, for a running step or run
	elapsed time.Duration
	err     string
	note    string
}

// NewLiveView draws on w, refreshing every tick while steps run.
func NewLiveView(w io.Writer, tick time.Duration) *LiveView {
	return &LiveView{w: w, tick: tick, steps: map[string]*viewLine{}}
}

// Event updates the view; it is a Runner.Events sink.
func (v *LiveView) Event(e Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stop == nil && !e.Final {
		v.stop = make(chan struct{})
		go v.refresh(v.stop)
	}
	l := &v.run
	if e.Step != "" {
		if v.steps[e.Step] == nil {
			v.steps[e.Step] = &viewLine{}
			v.order = append(v.order, e.Step)
		}
		l = v.steps[e.Step]
	}
	if e.Step == "" && l.started.IsZero() {
		l.started = e.Time.Add(-e.Elapsed)
	}
	if e.Step != "" || e.Final || e.Phase != PhaseCancelled {
		l.phase = e.Phase
	} else {
		l.phase = "stopping"
	}
	if e.Step != "" {
		l.started = e.Time.Add(-e.Elapsed)
	}
	l.elapsed, l.err = e.Elapsed, e.Error
	if !e.Heartbeat {
		l.note = e.Note
	}
	v.runID = e.RunID
	v.draw(time.Now())
	if e.Final && v.stop != nil {
		close(v.stop)
		v.stop = nil
	}
}

func (v *LiveView) refresh(stop chan struct{}) {
	t := time.NewTicker(v.tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			v.mu.Lock()
			v.draw(now)
			v.mu.Unlock()
		}
	}
}

// draw moves the cursor back over the previous drawing and writes it anew.
func (v *LiveView) draw(now time.Time) {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	lines := []string{v.runLine(now)}
	width := 0
	for _, id := range v.order {
		width = max(width, len(id))
	}
	for _, id := range v.order {
		lines = append(lines, v.stepLine(id, width, now))
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	v.drawn = len(lines)
	_, _ = io.WriteString(v.w, b.String())
}

func (v *LiveView) runLine(now time.Time) string {
	r := v.run
	var line string
	if r.phase == PhaseRunning || r.phase == "stopping" {
		line = fmt.Sprintf("run %s: %s [%s elapsed]", v.runID, r.phase, fmtElapsed(now.Sub(r.started)))
	} else {
		line = fmt.Sprintf("run %s: %s after %s", v.runID, r.phase, fmtElapsed(r.elapsed))
	}
	if r.note != "" && !strings.HasPrefix(r.note, "started") {
		line += " - " + r.note
	}
	return line
}

func (v *LiveView) stepLine(id string, width int, now time.Time) string {
	l := v.steps[id]
	line := fmt.Sprintf("  %-*s  %-9s", width, id, l.phase)
	switch l.phase {
	case PhaseRunning:
		line += fmt.Sprintf(" [%s elapsed]", fmtElapsed(now.Sub(l.started)))
		if l.note != "" {
			line += " " + l.note
		}
	case PhaseDone:
		if l.note != "" {
			line += " (earlier attempt)"
		} else {
			line += " " + fmtElapsed(l.elapsed)
		}
	case PhaseFailed, PhaseCancelled, PhaseSkipped:
		msg := l.err
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 100 {
			msg = msg[:97] + "..."
		}
		if l.phase != PhaseSkipped {
			line += " " + fmtElapsed(l.elapsed)
		}
		line += " " + msg
	}
	return strings.TrimRight(line, " ")
}
