package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newRunsCmd) }

type runsOptions struct {
	kind    string
	limit   int
	outputs bool
}

func newRunsCmd(app *App) *cobra.Command {
	var o runsOptions
	cmd := &cobra.Command{
		Use:   "runs [RUN-ID]",
		Short: "List recorded operations (backup, prepare, replicate, failover, drill, failback, teardown), or one",
		Long: `runs lists the stack's recorded operations, newest first, with their phase
(New, InProgress, Completed, PartiallyFailed, Failed), start, end, duration
and per-resource results, read from the state store: a run in progress in
another terminal shows its progress live. With an ID it shows that
operation's results and, for failover, drill, failback and teardown, its
steps: phase, start, duration, attempts (above 1 after a crash or failure was
resumed) and errors. An operation still InProgress while no process holds
the stack's lock was interrupted (a crash): run it again to resume it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runRuns(cmd.Context(), app, id, o)
		},
	}
	cmd.Flags().StringVar(&o.kind, "kind", "", "only operations of this kind (backup, prepare, replicate[-setup|-sync|-verify], failover, drill, failback, teardown)")
	cmd.Flags().IntVar(&o.limit, "limit", 20, "show at most this many runs (0: all)")
	cmd.Flags().BoolVar(&o.outputs, "outputs", false, "with RUN-ID: also print each step's outputs")
	return cmd
}

// runSummary is one line of `runs`: an operation's record, or a journal
// written without one (by a version before records, or by a test).
type runSummary struct {
	ID       string             `json:"id"`
	Kind     string             `json:"kind"`
	Phase    operation.Phase    `json:"phase"`
	Start    time.Time          `json:"start"`
	End      time.Time          `json:"end,omitzero"`
	Seconds  float64            `json:"seconds"`
	DryRun   bool               `json:"dry_run,omitempty"`
	Results  []operation.Result `json:"results"`
	Journals []string           `json:"journals,omitempty"`
	Steps    int                `json:"steps"`
	Done     int                `json:"done"`
	Failed   int                `json:"failed,omitempty"`
	Resumes  int                `json:"resumes,omitempty"`
	// Interrupted is set for an operation recorded as in progress while
	// nobody holds the stack's lock: its process died.
	Interrupted bool     `json:"interrupted,omitempty"`
	Error       string   `json:"error,omitempty"`
	Errors      []string `json:"errors,omitempty"`
}

type runsResult struct {
	Stack string          `json:"stack"`
	Lock  *state.LockInfo `json:"lock,omitempty"`
	Runs  []runSummary    `json:"runs"`
}

// runDetail is `runs ID`: the operation's record and its (first)
// journal, with durations worked out.
type runDetail struct {
	*runbook.Journal
	Operation   *operation.Record `json:"operation,omitempty"`
	Seconds     float64           `json:"seconds"`
	Interrupted bool              `json:"interrupted,omitempty"`
	StepTimes   []stepTimeDetail  `json:"step_seconds"`
}

type stepTimeDetail struct {
	ID      string  `json:"id"`
	Seconds float64 `json:"seconds"`
}

// journalPhase is a runbook phase in the operation's words.
func journalPhase(p runbook.Phase) operation.Phase {
	switch p {
	case runbook.PhasePending, runbook.PhaseRunning:
		return operation.PhaseInProgress
	case runbook.PhaseDone:
		return operation.PhaseCompleted
	}
	return operation.PhaseFailed
}

func runRuns(ctx context.Context, app *App, id string, o runsOptions) error {
	cfg, store, err := app.configState(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	lock, err := store.Holder(ctx, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	now := time.Now()
	if id != "" {
		return runDetailOf(ctx, app, store, cfg.State.Path, id, lock, o, now)
	}
	recs, err := operation.List(ctx, store, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	all, err := runbook.List(ctx, store, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	journals := map[string]*runbook.Journal{}
	for _, j := range all {
		journals[j.ID] = j
	}
	var list []runSummary
	owned := map[string]bool{}
	for _, r := range recs {
		sum := runSummary{ID: r.ID, Kind: string(r.Kind), Phase: r.Phase, Start: r.Start, End: r.End, DryRun: r.DryRun,
			Seconds: seconds(r.Duration(now)), Results: r.Results, Journals: r.Journals, Errors: r.Errors,
			Steps: len(r.Results), Done: r.Count(operation.PhaseCompleted), Failed: r.Count(operation.PhaseFailed)}
		for i, jid := range r.Journals {
			owned[jid] = true
			if j := journals[jid]; j != nil && i == 0 && r.Phase == operation.PhaseInProgress {
				// A live run: its journal knows how far it has got.
				sum.Steps, sum.Done, sum.Failed = len(j.Steps), j.Count(runbook.PhaseDone), j.Count(runbook.PhaseFailed)
			}
			if j := journals[jid]; j != nil {
				sum.Resumes += j.Resumes
			}
		}
		sum.Interrupted = r.Phase == operation.PhaseInProgress && r.Kind.Locked() &&
			(lock == nil || lock.Started.After(r.Start.Add(time.Second)))
		if len(r.Errors) > 0 {
			sum.Error = r.Errors[len(r.Errors)-1]
		}
		list = append(list, sum)
	}
	for _, j := range all {
		if owned[j.ID] {
			continue
		}
		list = append(list, runSummary{
			ID: j.ID, Kind: j.Kind, Phase: journalPhase(j.Phase), Start: j.Start, End: j.End, Seconds: seconds(j.Duration(now)),
			Results: []operation.Result{}, Journals: []string{j.ID},
			Steps: len(j.Steps), Done: j.Count(runbook.PhaseDone), Failed: j.Count(runbook.PhaseFailed),
			Resumes: j.Resumes, Interrupted: interrupted(j, lock), Error: j.Error,
		})
	}
	sort.SliceStable(list, func(a, b int) bool {
		if !list[a].Start.Equal(list[b].Start) {
			return list[a].Start.After(list[b].Start)
		}
		return list[a].ID > list[b].ID
	})
	res := runsResult{Stack: cfg.Stack, Lock: lock, Runs: []runSummary{}}
	for _, r := range list {
		if !operation.Matches(r.Kind, o.kind) {
			continue
		}
		if o.limit > 0 && len(res.Runs) == o.limit {
			break
		}
		res.Runs = append(res.Runs, r)
	}
	return app.Print(res, func(w io.Writer) { printRuns(w, res) })
}

// runDetailOf shows one operation, by its record's id or a journal's.
func runDetailOf(ctx context.Context, app *App, store state.Store, statePath, id string, lock *state.LockInfo, o runsOptions, now time.Time) error {
	var d runDetail
	rec, err := operation.Load(ctx, store, id)
	switch {
	case err == nil:
		d.Operation = rec
		d.Seconds = seconds(rec.Duration(now))
		d.Interrupted = rec.Phase == operation.PhaseInProgress && rec.Kind.Locked() && lock == nil
		if len(rec.Journals) > 0 {
			id = rec.Journals[0]
		} else {
			return app.Print(d, func(w io.Writer) { printRun(w, d, o.outputs, now) })
		}
	case !errors.Is(err, state.ErrNotFound):
		return Exit(ExitFailed, err)
	}
	j, err := runbook.Load(ctx, store, id)
	if errors.Is(err, state.ErrNotFound) {
		return Exit(ExitFailed, fmt.Errorf("no run %s in %s (see `pilotlight runs`)", id, statePath))
	} else if err != nil {
		return Exit(ExitFailed, err)
	}
	d.Journal = j
	if d.Operation == nil {
		d.Seconds, d.Interrupted = seconds(j.Duration(now)), interrupted(j, lock)
	}
	for _, s := range j.Steps {
		d.StepTimes = append(d.StepTimes, stepTimeDetail{ID: s.ID, Seconds: seconds(s.Duration(now))})
	}
	return app.Print(d, func(w io.Writer) { printRun(w, d, o.outputs, now) })
}

// interrupted: the journal says running but no process holds the lock it
// would run under (none at all, or one taken after a never-resumed run
// started), so its process died without recording its end.
func interrupted(j *runbook.Journal, lock *state.LockInfo) bool {
	if j.Phase != runbook.PhaseRunning {
		return false
	}
	return lock == nil || (j.Resumes == 0 && lock.Started.After(j.Start.Add(time.Second)))
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

func fmtDuration(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func printLock(w io.Writer, l *state.LockInfo) {
	if l == nil {
		return
	}
	fmt.Fprintf(w, "locked by %s (lock %s), pid %d on %s since %s\n", l.Operation, l.ID, l.PID, l.Host, fmtTime(l.Started))
}

func printRuns(w io.Writer, res runsResult) {
	printLock(w, res.Lock)
	if len(res.Runs) == 0 {
		fmt.Fprintf(w, "no recorded runs for %s\n", res.Stack)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tPHASE\tSTARTED\tENDED\tDURATION\tRESULTS")
	for _, r := range res.Runs {
		phase := string(r.Phase)
		if r.Interrupted {
			phase += " (interrupted)"
		}
		steps := fmt.Sprintf("%d/%d done", r.Done, r.Steps)
		if r.Failed > 0 {
			steps += fmt.Sprintf(", %d failed", r.Failed)
		}
		if r.Resumes > 0 {
			steps += fmt.Sprintf(", resumed %dx", r.Resumes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, phase, fmtTime(r.Start), fmtTime(r.End),
			fmtDuration(time.Duration(r.Seconds*float64(time.Second))), steps)
	}
	tw.Flush()
}

func printRun(w io.Writer, d runDetail, outputs bool, now time.Time) {
	if r := d.Operation; r != nil {
		phase := string(r.Phase)
		if d.Interrupted {
			phase += " (interrupted: no process holds the lock; run the operation again to resume)"
		}
		fmt.Fprintf(w, "%s %s of %s: %s\n", r.Kind, r.ID, r.Stack, phase)
		fmt.Fprintf(w, "  started %s, ended %s, took %s\n", fmtTime(r.Start), fmtTime(r.End), fmtDuration(r.Duration(now)))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RESOURCE\tKIND\tPHASE\tDETAIL")
		for _, x := range r.Results {
			detail := x.Detail
			if x.Error != "" {
				detail = strings.TrimSpace(detail + " " + x.Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Resource, x.Kind, x.Phase, detail)
		}
		tw.Flush()
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
		if r.Report != "" {
			fmt.Fprintf(w, "  report: state %s\n", r.Report)
		}
		if d.Journal == nil {
			return
		}
	}
	j := d.Journal
	phase := string(j.Phase)
	if d.Interrupted {
		phase += " (interrupted: no process holds the lock; run the operation again to resume)"
	}
	fmt.Fprintf(w, "run %s: %s of %s: %s\n", j.ID, j.Kind, j.Stack, phase)
	fmt.Fprintf(w, "  started %s, ended %s, took %s", fmtTime(j.Start), fmtTime(j.End), fmtDuration(j.Duration(now)))
	if j.Resumes > 0 {
		fmt.Fprintf(w, ", resumed %d time(s)", j.Resumes)
	}
	fmt.Fprintln(w)
	if len(j.Meta) > 0 {
		keys := make([]string, 0, len(j.Meta))
		for k := range j.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+j.Meta[k])
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(kv, " "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tPHASE\tSTARTED\tDURATION\tATTEMPTS\tNEEDS")
	for _, s := range j.Steps {
		dur := "-"
		if !s.Start.IsZero() {
			dur = fmtDuration(s.Duration(now))
		}
		needs := strings.Join(s.Needs, ",")
		if needs == "" {
			needs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Phase, fmtTime(s.Start), dur, s.Attempts, needs)
	}
	tw.Flush()
	for _, s := range j.Steps {
		if s.Error != "" && s.Phase != runbook.PhaseDone {
			fmt.Fprintf(w, "  %s: %s\n", s.ID, s.Error)
		}
	}
	if outputs {
		for _, s := range j.Steps {
			keys := make([]string, 0, len(s.Outputs))
			for k := range s.Outputs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %s.%s = %s\n", s.ID, k, s.Outputs[k])
			}
		}
	}
}
