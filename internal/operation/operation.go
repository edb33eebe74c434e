// Package operation owns the lifecycle every pilotlight operation shares:
// take the stack's lock, record the operation, run it (a runbook graph with
// its journal, or a plain function), build its report, and persist both.
// It owns the state store's key layout, so no other package spells a key.
// It does not print: the CLI and the demo wrap the same functions in their
// own output.
package operation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Kind is what an operation does.
type Kind string

const (
	KindBackup          Kind = "backup"
	KindPrepare         Kind = "prepare"
	KindReplicateSetup  Kind = "replicate-setup"
	KindReplicateSync   Kind = "replicate-sync"
	KindReplicateVerify Kind = "replicate-verify"
	KindFailover        Kind = "failover"
	KindDrill           Kind = "drill"
	KindFailback        Kind = "failback"
	KindTeardown        Kind = "teardown"
)

// Kinds lists every operation kind, in the order a stack meets them.
func Kinds() []Kind {
	return []Kind{KindBackup, KindPrepare, KindReplicateSetup, KindReplicateSync, KindReplicateVerify, KindFailover, KindDrill, KindFailback, KindTeardown}
}

// Matches reports whether an operation (or a journal) of kind k is one a
// `--kind filter` asks for: the kind itself, or one of its family
// ("replicate" matches replicate-sync, "teardown" teardown-drill).
func Matches(k, filter string) bool {
	return filter == "" || k == filter || strings.HasPrefix(k, filter+"-")
}

// Phase is where an operation is, in Velero's words.
type Phase string

const (
	PhaseNew             Phase = "New"
	PhaseInProgress      Phase = "InProgress"
	PhaseCompleted       Phase = "Completed"
	PhasePartiallyFailed Phase = "PartiallyFailed"
	PhaseFailed          Phase = "Failed"
)

// Result is what an operation did to one resource (or, for a graph
// operation, one step).
type Result struct {
	Resource string `json:"resource"`
	// Kind is the resource's kind (rds-instance, bucket, step, ...).
	Kind    string  `json:"kind,omitempty"`
	Phase   Phase   `json:"phase"`
	Detail  string  `json:"detail,omitempty"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// Record is one operation, as `runs` lists it.
type Record struct {
	ID      string    `json:"id"`
	Kind    Kind      `json:"kind"`
	Stack   string    `json:"stack"`
	Phase   Phase     `json:"phase"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	DryRun  bool      `json:"dry_run,omitempty"`
	Results []Result  `json:"results"`
	Errors  []string  `json:"errors,omitempty"`
	// Journals are the runbook journals of a graph operation (a drill
	// has its run and its teardown's); they carry the steps and resume.
	Journals []string `json:"journals,omitempty"`
	// Report is the key of the operation's stored report, if it has one.
	Report string            `json:"report,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
}

// Locked reports whether operations of kind k take the stack's lock: the
// ones that change the DR stack. Backup and replicate are safe to run
// beside each other and beside a failover, as serve does on its schedule.
func (k Kind) Locked() bool {
	switch k {
	case KindPrepare, KindFailover, KindDrill, KindFailback, KindTeardown:
		return true
	}
	return false
}

// Duration is the operation's length (so far, if not ended).
func (r *Record) Duration(now time.Time) time.Duration {
	if r.End.IsZero() {
		return now.Sub(r.Start)
	}
	return r.End.Sub(r.Start)
}

// Count returns how many results are in phase p.
func (r *Record) Count(p Phase) int {
	n := 0
	for _, x := range r.Results {
		if x.Phase == p {
			n++
		}
	}
	return n
}

// settle sets the phase from the results and the operation's error, unless
// the operation set it: any failure among successes is a partial failure.
func (r *Record) settle(err error) {
	if err != nil {
		r.Errors = appendUnique(r.Errors, err.Error())
	}
	if r.Phase != PhaseInProgress {
		return // the operation judged itself
	}
	failed := r.Count(PhaseFailed)
	switch {
	case failed == 0 && len(r.Errors) == 0:
		r.Phase = PhaseCompleted
	case failed < len(r.Results):
		r.Phase = PhasePartiallyFailed
	default:
		r.Phase = PhaseFailed
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Key layout of the state store. Journals live where runbook puts them
// (runbook.Key); everything else is spelled here and only here.
const (
	recordPrefix = "operations/"
	reportPrefix = "reports/"
)

// RecordKey is where operation id's record lives.
func RecordKey(id string) string { return recordPrefix + id + ".json" }

// JournalKey is where a graph run's journal lives.
func JournalKey(runID string) string { return runbook.Key(runID) }

// ReportKey is where run id's report is kept; format is "json" or "html".
func ReportKey(id, format string) string { return reportPrefix + id + "/report." + format }

// ReportsPrefix lists the stored reports; kind narrows to one kind's runs,
// whose ids start with it.
func ReportsPrefix(kind Kind) string {
	if kind == "" {
		return reportPrefix
	}
	return reportPrefix + string(kind) + "-"
}

// VerifyKey is where the last verify result of a bucket is kept, by
// `replicate verify` and serve, for status and readiness.
func VerifyKey(bucket string) string { return "verify/" + bucket + ".json" }

// ServeLastKey is where serve keeps a resource's last scheduled run.
func ServeLastKey(resource string) string { return "serve/last/" + resource + ".json" }

// newID is kind, UTC time and a random suffix, as run ids are.
func newID(kind Kind, now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", kind, now.UTC().Format("20060102-150405"), hex.EncodeToString(b[:]))
}

// Save writes r to the store.
func Save(ctx context.Context, s state.Store, r *Record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("operation %s: %w", r.ID, err)
	}
	if err := s.Put(ctx, RecordKey(r.ID), data); err != nil {
		return fmt.Errorf("operation %s: %w", r.ID, err)
	}
	return nil
}

// Load reads one record.
func Load(ctx context.Context, s state.Store, id string) (*Record, error) {
	data, err := s.Get(ctx, RecordKey(id))
	if err != nil {
		return nil, fmt.Errorf("operation %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("operation %s: %w", id, err)
	}
	return &r, nil
}

// List returns the records of stack, newest first.
func List(ctx context.Context, s state.Store, stack string) ([]*Record, error) {
	keys, err := s.List(ctx, recordPrefix)
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	var out []*Record
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		r, err := Load(ctx, s, strings.TrimSuffix(strings.TrimPrefix(k, recordPrefix), ".json"))
		if err != nil {
			return nil, err
		}
		if stack == "" || r.Stack == stack {
			out = append(out, r)
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

// LockError is a lock another operation holds, or a --force-unlock that
// named a lock nobody holds under that id; the CLI exits 3 on it.
type LockError struct{ Err error }

func (e *LockError) Error() string { return e.Err.Error() }
func (e *LockError) Unwrap() error { return e.Err }

// releaseTimeout bounds giving the lock back after the operation, which
// happens even when Ctrl-C has cancelled the operation's context.
const releaseTimeout = 30 * time.Second

// WithLock runs fn holding the stack's mutating-operation lock. With
// forceUnlock, that lock is removed first, as `terraform force-unlock`
// would; an id that does not match the holder removes nothing. The lock is
// given back even when ctx was cancelled.
func WithLock(ctx context.Context, store state.Store, stack, operation, forceUnlock string, log *slog.Logger, fn func() error) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if forceUnlock != "" {
		switch ferr := store.ForceUnlock(ctx, stack, forceUnlock); {
		case ferr == nil:
			log.Warn("took over the stack's lock", "stack", stack, "lock", forceUnlock)
		case errors.Is(ferr, state.ErrNotLocked):
			log.Warn("--force-unlock: the stack holds no lock; going on", "stack", stack, "lock", forceUnlock)
		default:
			return &LockError{ferr}
		}
	}
	release, err := store.Lock(ctx, stack, operation)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			return &LockError{err}
		}
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := release(rctx); rerr != nil {
			log.Error("could not release the stack's lock", "stack", stack, "err", rerr)
			if err == nil {
				err = rerr
			}
		}
	}()
	return fn()
}

// Deps is what every operation needs besides its own options.
type Deps struct {
	// Store receives the record, journals and reports. A nil Store runs
	// an unlocked operation unrecorded (backup while the state store is
	// unreachable still protects).
	Store state.Store
	Stack string
	Log   *slog.Logger
	// ForceUnlock takes over a lock left by a crashed process.
	ForceUnlock string
}

func (d Deps) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// Run is the lifecycle: lock (for the kinds that take it), record the
// operation as InProgress, run fn, settle its phase from its results and
// error, and persist the record. fn fills rec.Results; its error is the
// operation's. A lock not taken is returned as *LockError with no record.
func Run(ctx context.Context, d Deps, kind Kind, fn func(ctx context.Context, rec *Record) error) (*Record, error) {
	rec := &Record{ID: newID(kind, time.Now()), Kind: kind, Stack: d.Stack, Phase: PhaseNew, Start: time.Now().UTC(), Results: []Result{}}
	body := func() error {
		rec.Phase = PhaseInProgress
		d.persist(ctx, rec)
		err := fn(ctx, rec)
		rec.End = time.Now().UTC()
		rec.settle(err)
		d.persist(context.WithoutCancel(ctx), rec)
		return err
	}
	if !kind.Locked() {
		return rec, body()
	}
	if d.Store == nil {
		return nil, fmt.Errorf("%s of %s: a state store is needed for the stack's lock", kind, d.Stack)
	}
	var runErr error
	err := WithLock(ctx, d.Store, d.Stack, string(kind), d.ForceUnlock, d.Log, func() error {
		runErr = body()
		return nil
	})
	if err != nil {
		var le *LockError
		if errors.As(err, &le) {
			return nil, err
		}
		return rec, errors.Join(runErr, err)
	}
	return rec, runErr
}

// persist writes the record; failing to is logged, not fatal, since the
// operation's work already happened.
func (d Deps) persist(ctx context.Context, rec *Record) {
	if d.Store == nil {
		return
	}
	if err := Save(ctx, d.Store, rec); err != nil {
		d.log().Warn("operation not recorded", "operation", rec.ID, "err", err)
	}
}
