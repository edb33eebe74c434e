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
		Short: "List recorded operations (failover, drill, failback, teardown), or one run's steps",
		Long: `runs lists the stack's recorded operations, newest first, with their phase,
start, end and duration, read from the state store: a run in progress in
another terminal shows its progress live. With a RUN-ID it shows that run's
steps: phase, start, duration, attempts (above 1 after a crash or failure was
resumed) and errors. A run still "running" while no process holds the
stack's lock was interrupted (a crash): run the same operation again to
resume it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runRuns(cmd.Context(), app, id, o)
		},
	}
	cmd.Flags().StringVar(&o.kind, "kind", "", "only runs of this kind (failover, drill, failback, teardown)")
	cmd.Flags().IntVar(&o.limit, "limit", 20, "show at most this many runs (0: all)")
	cmd.Flags().BoolVar(&o.outputs, "outputs", false, "with RUN-ID: also print each step's outputs")
	return cmd
}

// runSummary is one line of `runs`.
type runSummary struct {
	ID      string        `json:"id"`
	Kind    string        `json:"kind"`
	Phase   runbook.Phase `json:"phase"`
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end,omitzero"`
	Seconds float64       `json:"seconds"`
	Steps   int           `json:"steps"`
	Done    int           `json:"done"`
	Failed  int           `json:"failed,omitempty"`
	Resumes int           `json:"resumes,omitempty"`
	// Interrupted is set for a run recorded as running while nobody holds
	// the stack's lock: its process died.
	Interrupted bool   `json:"interrupted,omitempty"`
	Error       string `json:"error,omitempty"`
}

type runsResult struct {
	Stack string          `json:"stack"`
	Lock  *state.LockInfo `json:"lock,omitempty"`
	Runs  []runSummary    `json:"runs"`
}

// runDetail is `runs ID`: the journal, with durations worked out.
type runDetail struct {
	*runbook.Journal
	Seconds     float64          `json:"seconds"`
	Interrupted bool             `json:"interrupted,omitempty"`
	StepTimes   []stepTimeDetail `json:"step_seconds"`
}

type stepTimeDetail struct {
	ID      string  `json:"id"`
	Seconds float64 `json:"seconds"`
}

func runRuns(ctx context.Context, app *App, id string, o runsOptions) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	store, err := app.openState(ctx, cfg)
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
		j, err := runbook.Load(ctx, store, id)
		if errors.Is(err, state.ErrNotFound) {
			return Exit(ExitFailed, fmt.Errorf("no run %s in %s (see `pilotlight runs`)", id, cfg.State.Path))
		} else if err != nil {
			return Exit(ExitFailed, err)
		}
		d := runDetail{Journal: j, Seconds: seconds(j.Duration(now)), Interrupted: interrupted(j, lock)}
		for _, s := range j.Steps {
			d.StepTimes = append(d.StepTimes, stepTimeDetail{ID: s.ID, Seconds: seconds(s.Duration(now))})
		}
		return app.Print(d, func(w io.Writer) { printRun(w, d, o.outputs, now) })
	}
	all, err := runbook.List(ctx, store, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	res := runsResult{Stack: cfg.Stack, Lock: lock, Runs: []runSummary{}}
	for _, j := range all {
		if o.kind != "" && j.Kind != o.kind {
			continue
		}
		if o.limit > 0 && len(res.Runs) == o.limit {
			break
		}
		res.Runs = append(res.Runs, runSummary{
			ID: j.ID, Kind: j.Kind, Phase: j.Phase, Start: j.Start, End: j.End, Seconds: seconds(j.Duration(now)),
			Steps: len(j.Steps), Done: j.Count(runbook.PhaseDone), Failed: j.Count(runbook.PhaseFailed),
			Resumes: j.Resumes, Interrupted: interrupted(j, lock), Error: j.Error,
		})
	}
	return app.Print(res, func(w io.Writer) { printRuns(w, res) })
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
	fmt.Fprintln(tw, "RUN\tKIND\tPHASE\tSTARTED\tENDED\tDURATION\tSTEPS")
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
