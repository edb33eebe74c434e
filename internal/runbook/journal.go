package runbook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/state"
)

// Phase is where a step or a run is.
type Phase string

const (
	PhasePending   Phase = "pending"
	PhaseRunning   Phase = "running"
	PhaseDone      Phase = "done"
	PhaseFailed    Phase = "failed"
	PhaseSkipped   Phase = "skipped"   // a step it needs failed
	PhaseCancelled Phase = "cancelled" // stopped by Ctrl-C or SIGTERM
	// PhaseAbandoned marks a run that will not be resumed (see Abandon).
	PhaseAbandoned Phase = "abandoned"
)

// Finished reports whether a run in this phase is over for good: only
// done and abandoned runs are not resumed.
func (p Phase) Finished() bool { return p == PhaseDone || p == PhaseAbandoned }

// StepRecord is one step's entry in the journal.
type StepRecord struct {
	ID      string    `json:"id"`
	Needs   []string  `json:"needs,omitempty"`
	Phase   Phase     `json:"phase"`
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Outputs Outputs   `json:"outputs,omitempty"`
	Error   string    `json:"error,omitempty"`
	// Attempts counts starts across resumes: above 1, the step re-attached
	// to (or re-created) its resource after a crash or failure.
	Attempts int `json:"attempts,omitempty"`
}

// Duration is how long the step's last attempt took (so far, if running).
func (s StepRecord) Duration(now time.Time) time.Duration {
	switch {
	case s.Start.IsZero():
		return 0
	case s.End.IsZero():
		return now.Sub(s.Start)
	}
	return s.End.Sub(s.Start)
}

// Journal is the record of one operation, written on every phase change.
type Journal struct {
	ID    string    `json:"id"`
	Kind  string    `json:"kind"`
	Stack string    `json:"stack"`
	Phase Phase     `json:"phase"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Resumes counts how often the run was continued after a crash,
	// failure or cancellation.
	Resumes int               `json:"resumes,omitempty"`
	Error   string            `json:"error,omitempty"`
	Steps   []StepRecord      `json:"steps"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// Step returns the record of step id.
func (j *Journal) Step(id string) (StepRecord, bool) {
	for _, s := range j.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return StepRecord{}, false
}

// Duration is the run's length (so far, if not ended).
func (j *Journal) Duration(now time.Time) time.Duration {
	if j.End.IsZero() {
		return now.Sub(j.Start)
	}
	return j.End.Sub(j.Start)
}

// Count returns how many steps are in phase p.
func (j *Journal) Count(p Phase) int {
	n := 0
	for _, s := range j.Steps {
		if s.Phase == p {
			n++
		}
	}
	return n
}

// keyPrefix is where journals live in the store. The rest of the key
// layout is internal/operation's; journals are spelled here because
// operation builds on runbook, not the other way round.
const keyPrefix = "runs/"

// Key is where run id's journal lives in the store.
func Key(runID string) string { return keyPrefix + runID + ".json" }

// newRunID is kind, UTC time and a random suffix: it sorts by time within
// a kind, and is short, since steps derive resource names from it.
func newRunID(kind string, now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", kind, now.UTC().Format("20060102-150405"), hex.EncodeToString(b[:]))
}

// Load reads one journal.
func Load(ctx context.Context, s state.Store, runID string) (*Journal, error) {
	data, err := s.Get(ctx, Key(runID))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("run %s: unreadable journal %s: %w", runID, Key(runID), err)
	}
	return &j, nil
}

// List returns the journals of stack (all stacks if empty), newest first.
func List(ctx context.Context, s state.Store, stack string) ([]*Journal, error) {
	return list(ctx, s, keyPrefix, stack)
}

func list(ctx context.Context, s state.Store, prefix, stack string) ([]*Journal, error) {
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []*Journal
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		j, err := Load(ctx, s, strings.TrimSuffix(strings.TrimPrefix(k, keyPrefix), ".json"))
		if err != nil {
			return nil, err
		}
		if stack == "" || j.Stack == stack {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Start.Equal(out[b].Start) {
			return out[a].Start.After(out[b].Start)
		}
		return out[a].ID > out[b].ID
	})
	return out, nil
}

// Unfinished returns the newest run of kind for stack that is neither done
// nor abandoned (a crashed, failed or cancelled one), or nil when none.
func Unfinished(ctx context.Context, s state.Store, stack, kind string) (*Journal, error) {
	// Run ids start with their kind, so only that kind's journals are read.
	all, err := list(ctx, s, keyPrefix+kind+"-", stack)
	if err != nil {
		return nil, err
	}
	for _, j := range all {
		if j.Kind == kind && !j.Phase.Finished() {
			return j, nil
		}
	}
	return nil, nil
}

// Abandon marks an unfinished run as one that will not be resumed, so the
// next run of its kind starts afresh; why is kept in its meta. The caller
// holds the stack's lock.
func Abandon(ctx context.Context, s state.Store, runID, why string) error {
	j, err := Load(ctx, s, runID)
	if err != nil {
		return err
	}
	if j.Phase == PhaseDone {
		return fmt.Errorf("run %s is done: nothing to abandon", runID)
	}
	j.Phase = PhaseAbandoned
	if j.End.IsZero() {
		j.End = time.Now().UTC()
	}
	if j.Meta == nil {
		j.Meta = map[string]string{}
	}
	j.Meta["abandoned"] = why
	return save(ctx, s, j)
}

func save(ctx context.Context, s state.Store, j *Journal) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.ID, err)
	}
	if err := s.Put(ctx, Key(j.ID), data); err != nil {
		return fmt.Errorf("journal %s: %w", j.ID, err)
	}
	return nil
}
