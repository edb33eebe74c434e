package operation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// GraphOptions tune how a graph operation runs.
type GraphOptions struct {
	// Parallelism bounds the steps run at once (runbook's default if 0).
	Parallelism int
	// Events receives the runbook's progress; nil is silent.
	Events func(runbook.Event)
}

// Stored is the JSON shape of every stored report (reports/<run>/report.json),
// the one readiness, `reports` and the demo read.
type Stored struct {
	Report *recovery.Report `json:"report"`
	Checks []report.Check   `json:"checks"`
	// Passed: the run finished and every check passed.
	Passed   bool `json:"passed"`
	TornDown bool `json:"torn_down,omitempty"`
	// HTMLReport is the file the HTML was also written to, if any.
	HTMLReport string `json:"html_report,omitempty"`
}

// Document is the renderable form of s, with notes added by the caller.
func (s *Stored) Document(notes ...string) *report.Document {
	doc := s.Report.Document(s.Checks)
	doc.Notes = append(doc.Notes, notes...)
	return doc
}

// LoadReport reads run id's stored report. Reports stored before the
// wrapped shape (a bare failover report) are read too.
func LoadReport(ctx context.Context, s state.Store, id string) (*Stored, error) {
	data, err := s.Get(ctx, ReportKey(id, "json"))
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	var st Stored
	if err := json.Unmarshal(data, &st); err == nil && st.Report != nil {
		return &st, nil
	}
	var plain recovery.Report
	if err := json.Unmarshal(data, &plain); err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	return &Stored{Report: &plain, Checks: []report.Check{}, Passed: plain.Phase == string(runbook.PhaseDone)}, nil
}

// SaveReport stores s's JSON and HTML under run id; notes go into the HTML.
// It returns the HTML, for a caller that also writes it to a file.
func SaveReport(ctx context.Context, store state.Store, id string, s *Stored, notes ...string) ([]byte, error) {
	var html bytes.Buffer
	if err := report.HTML(&html, s.Document(notes...)); err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	if err := store.Put(ctx, ReportKey(id, "json"), data); err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	if err := store.Put(ctx, ReportKey(id, "html"), html.Bytes()); err != nil {
		return nil, fmt.Errorf("report %s: %w", id, err)
	}
	return html.Bytes(), nil
}

// Outcome is what a graph operation leaves: its record, its run's journal
// and the report stored for it.
type Outcome struct {
	Record  *Record
	Journal *runbook.Journal
	Stored  *Stored
	// HTML is the report page, for a caller that writes it to a file.
	HTML []byte
	// RunErr is the run's own failure (steps that failed, a cancel);
	// the operation's error also carries it.
	RunErr error
	// TeardownErr is a drill's failed teardown.
	TeardownErr error
}

// ReportKey is where the outcome's JSON report is stored.
func (o *Outcome) ReportKey() string {
	if o.Journal == nil {
		return ""
	}
	return ReportKey(o.Journal.ID, "json")
}

// runGraph runs g as part of rec, noting the journal in rec as soon as the
// run has one, so that `runs` finds a live run's steps, and records each
// step as a result.
func runGraph(ctx context.Context, d Deps, rec *Record, g *runbook.Graph, journalKind string, meta map[string]string, o GraphOptions) (*runbook.Journal, error) {
	note := func(id string) {
		if id != "" && !slices.Contains(rec.Journals, id) {
			rec.Journals = append(rec.Journals, id)
			d.persist(ctx, rec)
			supersede(ctx, d, rec, id)
		}
	}
	events := func(e runbook.Event) {
		note(e.RunID)
		if o.Events != nil {
			o.Events(e)
		}
	}
	runner := &runbook.Runner{Store: d.Store, Parallelism: o.Parallelism, Log: d.Log, Events: events}
	j, err := runner.Run(ctx, g, d.Stack, journalKind, meta)
	if j != nil {
		note(j.ID)
		for _, s := range j.Steps {
			r := Result{Resource: journalKind + "/" + s.ID, Kind: "step", Phase: PhaseCompleted, Error: s.Error,
				Seconds: s.Duration(time.Now()).Round(time.Millisecond).Seconds()}
			if s.Phase != runbook.PhaseDone {
				r.Phase, r.Detail = PhaseFailed, string(s.Phase)
			}
			rec.Results = append(rec.Results, r)
		}
	}
	return j, err
}

// supersede closes the records of earlier operations whose process died
// while running the journal rec now resumes: they stay in the list, Failed,
// pointing at the operation that finished their work.
func supersede(ctx context.Context, d Deps, rec *Record, journal string) {
	all, err := List(ctx, d.Store, d.Stack)
	if err != nil {
		return
	}
	for _, r := range all {
		if r.ID == rec.ID || r.Phase != PhaseInProgress || !slices.Contains(r.Journals, journal) {
			continue
		}
		r.Phase = PhaseFailed
		r.Errors = appendUnique(r.Errors, "interrupted; resumed by "+rec.ID)
		if r.End.IsZero() {
			r.End = time.Now().UTC()
		}
		d.persist(ctx, r)
	}
}

// RecoverOptions are failover's, drill's and failback's.
type RecoverOptions struct {
	GraphOptions
	// Point restores this DB recovery point instead of the newest DR copy.
	Point string
}

// Recover rebuilds the stack in the DR region (kind Failover) or returns
// it to the primary (kind Failback): lock, journaled graph, report (JSON
// and HTML), record.
func Recover(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, kind Kind, o RecoverOptions) (*Outcome, error) {
	var g *runbook.Graph
	var build func(*runbook.Journal) *recovery.Report
	var err error
	switch kind {
	case KindFailover:
		if err := recoverPreCheck(ctx, cfg, env); err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
		r := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindFailover, PointID: o.Point, Log: d.Log})
		g, err = r.Graph()
		build = r.BuildReport
	case KindFailback:
		f := recovery.NewFailback(cfg, env, recovery.Options{Log: d.Log})
		g, err = f.Graph()
		build = f.BuildReport
	default:
		return nil, fmt.Errorf("operation: %s is not a failover", kind)
	}
	if err != nil {
		return nil, err
	}
	d.Stack = cfg.Stack
	out := &Outcome{}
	out.Record, err = Run(ctx, d, kind, func(ctx context.Context, rec *Record) error {
		var meta map[string]string
		if kind == KindFailover {
			meta = map[string]string{"point": o.Point}
		}
		out.Journal, out.RunErr = runGraph(ctx, d, rec, g, string(kind), meta, o.GraphOptions)
		if out.Journal == nil {
			rec.Phase = PhaseFailed
			return out.RunErr
		}
		out.Stored = &Stored{Report: build(out.Journal), Checks: []report.Check{}, Passed: out.RunErr == nil}
		out.store(ctx, d, rec)
		if out.RunErr != nil {
			rec.Phase = PhaseFailed
			return fmt.Errorf("%s %s: %w (run it again to resume)", kind, out.Journal.ID, out.RunErr)
		}
		return nil
	})
	return out, err
}

// store saves the outcome's report and names it in rec; failing to is
// logged, since the run itself already happened.
func (o *Outcome) store(ctx context.Context, d Deps, rec *Record) {
	html, err := SaveReport(context.WithoutCancel(ctx), d.Store, o.Journal.ID, o.Stored)
	if err != nil {
		d.log().Warn("could not store the report", "key", o.ReportKey(), "err", err)
		return
	}
	o.HTML = html
	rec.Report = o.ReportKey()
}

// DrillOptions are a drill's.
type DrillOptions struct {
	RecoverOptions
	// Keep leaves the drill's resources up.
	Keep bool
	// Checks are added to the drill's own (the demo's proof that nothing
	// called the primary region, say); it is called after Verify.
	Checks func(ctx context.Context) []report.Check
	// Notes go into the HTML report.
	Notes []string
	// Predicted is the RTO predicted before the drill: the report compares
	// it with what the drill measured.
	Predicted *recovery.Prediction
}

// Drill runs the failover's steps into isolated -drill resources, verifies
// them, tears them down unless Keep, and stores the report.
func Drill(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, o DrillOptions) (*Outcome, error) {
	if err := recoverPreCheck(ctx, cfg, env); err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindDrill, PointID: o.Point, Log: d.Log})
	g, err := r.Graph()
	if err != nil {
		return nil, err
	}
	d.Stack = cfg.Stack
	out := &Outcome{}
	out.Record, err = Run(ctx, d, KindDrill, func(ctx context.Context, rec *Record) error {
		out.Journal, out.RunErr = runGraph(ctx, d, rec, g, recovery.KindDrill, map[string]string{"point": o.Point}, o.GraphOptions)
		if out.Journal == nil {
			rec.Phase = PhaseFailed
			return out.RunErr
		}
		st := &Stored{Report: r.BuildReport(out.Journal)}
		if o.Predicted != nil {
			st.Report.ComparePrediction(*o.Predicted)
		}
		st.Checks = r.Verify(ctx, out.Journal, out.Journal.Start)
		if o.Checks != nil {
			st.Checks = append(st.Checks, o.Checks(ctx)...)
		}
		if !o.Keep {
			tg, err := r.TeardownGraph(recovery.TeardownOptions{})
			if err == nil {
				_, err = runGraph(ctx, d, rec, tg, "teardown-"+recovery.KindDrill, nil, GraphOptions{Events: o.Events})
			}
			if err == nil {
				abandonTornDown(ctx, d, recovery.KindDrill)
			}
			out.TeardownErr = err
			st.TornDown = err == nil
			detail := "every drill resource deleted"
			if err != nil {
				detail = err.Error()
			}
			st.Checks = append(st.Checks, report.Check{Name: "drill torn down", Pass: err == nil, Detail: detail})
		}
		for _, c := range st.Checks {
			res := Result{Resource: c.Name, Kind: "check", Phase: PhaseCompleted, Detail: c.Detail}
			if !c.Pass {
				res.Phase = PhaseFailed
			}
			rec.Results = append(rec.Results, res)
		}
		st.Passed = out.RunErr == nil && st.Document().Passed()
		out.Stored = st
		html, err := SaveReport(context.WithoutCancel(ctx), d.Store, out.Journal.ID, st, o.Notes...)
		if err != nil {
			d.log().Warn("could not store the report", "key", out.ReportKey(), "err", err)
		} else {
			out.HTML, rec.Report = html, out.ReportKey()
		}
		switch {
		case out.RunErr != nil:
			rec.Phase = PhaseFailed
			return fmt.Errorf("drill %s: %w", out.Journal.ID, out.RunErr)
		case out.TeardownErr != nil:
			rec.Phase = PhasePartiallyFailed
			return fmt.Errorf("drill teardown: %w (run `pilotlight teardown --kind drill` to finish)", out.TeardownErr)
		case !st.Passed:
			rec.Phase = PhasePartiallyFailed
			return fmt.Errorf("drill %s: a check failed", out.Journal.ID)
		}
		return nil
	})
	return out, err
}

// TeardownOptions are a teardown's.
type TeardownOptions struct {
	GraphOptions
	recovery.TeardownOptions
	// Of is what to tear down: failover or drill.
	Of Kind
}

// Teardown deletes what a failover (or drill) created, in reverse, and
// closes the run it tore down so that it is not resumed.
func Teardown(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, o TeardownOptions) (*Outcome, error) {
	if o.Of != KindFailover && o.Of != KindDrill {
		return nil, fmt.Errorf("teardown: --kind must be failover or drill, not %q", o.Of)
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: string(o.Of), Log: d.Log})
	g, err := r.TeardownGraph(o.TeardownOptions)
	if err != nil {
		return nil, err
	}
	d.Stack = cfg.Stack
	out := &Outcome{}
	out.Record, err = Run(ctx, d, KindTeardown, func(ctx context.Context, rec *Record) error {
		rec.Meta = map[string]string{"of": string(o.Of)}
		out.Journal, out.RunErr = runGraph(ctx, d, rec, g, "teardown-"+string(o.Of), nil, o.GraphOptions)
		if out.RunErr == nil && out.Journal != nil {
			abandonTornDown(ctx, d, string(o.Of))
		}
		if out.RunErr != nil {
			rec.Phase = PhaseFailed
			if out.Journal == nil {
				return out.RunErr
			}
			return fmt.Errorf("teardown: %w (run it again to resume)", out.RunErr)
		}
		return nil
	})
	return out, err
}

// abandonTornDown closes an unfinished run whose resources a teardown just
// deleted: resuming it would reuse outputs that name nothing.
func abandonTornDown(ctx context.Context, d Deps, kind string) {
	j, err := runbook.Unfinished(ctx, d.Store, d.Stack, kind)
	if err != nil || j == nil {
		return
	}
	if err := runbook.Abandon(ctx, d.Store, j.ID, "torn down"); err != nil {
		d.log().Warn("could not close the torn-down run", "run", j.ID, "err", err)
	}
}

// IsLock reports whether err is a lock not taken.
func IsLock(err error) bool {
	var le *LockError
	return errors.As(err, &le)
}

// ReportIDs lists the runs with a stored report, oldest first; kind
// narrows to one kind's runs.
func ReportIDs(ctx context.Context, s state.Store, kind Kind) ([]string, error) {
	keys, err := s.List(ctx, ReportsPrefix(kind))
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	var ids []string
	for _, k := range keys {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(k, reportPrefix), "/report.json"); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// VerifyFailover checks a failover's DR stack as a drill checks its own,
// adds the caller's checks (made after the drill's, so they can judge
// them), and stores the report again with every check.
func VerifyFailover(ctx context.Context, d Deps, cfg *spec.Config, env *awsenv.Env, out *Outcome, extra func() []report.Check, notes ...string) error {
	if out == nil || out.Journal == nil || out.Stored == nil {
		return errors.New("verify: the failover left no run to verify")
	}
	r := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindFailover, Log: d.Log})
	checks := r.Verify(ctx, out.Journal, out.Journal.Start)
	if extra != nil {
		checks = append(checks, extra()...)
	}
	out.Stored.Checks = checks
	out.Stored.Passed = out.RunErr == nil && out.Stored.Document().Passed()
	html, err := SaveReport(ctx, d.Store, out.Journal.ID, out.Stored, notes...)
	if err != nil {
		return err
	}
	out.HTML = html
	return nil
}
