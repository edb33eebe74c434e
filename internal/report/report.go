// Package report renders the record of a recovery (failover, drill,
// failback) as one self-contained HTML file: no scripts, styles or images
// from elsewhere, so that it opens the same on an air-gapped laptop years
// later. It reads a Document and knows nothing of AWS.
package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// Document is everything a report shows.
type Document struct {
	Title     string
	Kind      string
	RunID     string
	Stack     string
	Region    string
	Phase     string
	Start     time.Time
	End       time.Time
	RTO       time.Duration
	Points    []Point
	Checks    []Check
	Steps     []Step
	Resources []string
	Notes     []string
	// CriticalPath is the chain of steps that set the RTO, first to last;
	// its steps are also marked Critical and stand out on the timeline.
	CriticalPath []string
	// Prediction is the RTO predicted before the run, if one was made.
	Prediction *Prediction
}

// Prediction is the RTO predicted before a run against what it measured.
type Prediction struct {
	Predicted, Measured time.Duration
	// ErrorPercent is (predicted − measured) / measured × 100; nil when
	// nothing was measured.
	ErrorPercent *float64
	// Basis says where the predicted durations came from.
	Basis                       string
	PredictedPath, MeasuredPath []string
	Steps                       []PredictedStep
}

// PredictedStep is one step's predicted and measured duration.
type PredictedStep struct {
	ID        string
	From      string
	Predicted time.Duration
	// Measured is nil for a step that did not finish; ErrorPercent also
	// for one that took no measurable time.
	Measured     *time.Duration
	ErrorPercent *float64
}

// Point is a recovery point used, with its RPO.
type Point struct {
	Resource string
	ID       string
	Time     time.Time
	RPO      time.Duration
}

// Check is one verification with its verdict.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// Step is one runbook step's timing.
type Step struct {
	ID    string
	Phase string
	Start time.Time
	End   time.Time
	Error string
	// Critical marks a step on the critical path.
	Critical bool
}

// Passed reports whether every check passed.
func (d *Document) Passed() bool {
	for _, c := range d.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

// bar is one row of the timeline picture.
type bar struct {
	Label        string
	X, Y, W      float64
	TextX, TextY float64
	Fill         string
	Title        string
	Critical     bool
}

const (
	chartLeft  = 150.0
	chartWidth = 600.0
	rowHeight  = 26.0
)

// timeline lays the steps out as a Gantt chart: x is time since the run
// began, one row per step, so steps that ran in parallel stand side by side.
func timeline(d *Document) (bars []bar, height float64, ticks []tick) {
	steps := append([]Step(nil), d.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Start.Before(steps[j].Start) })
	start, end := d.Start, d.End
	for _, s := range steps {
		if !s.Start.IsZero() && (start.IsZero() || s.Start.Before(start)) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	total := end.Sub(start)
	if total <= 0 {
		total = time.Second
	}
	scale := chartWidth / float64(total)
	for i, s := range steps {
		y := 10 + float64(i)*rowHeight
		x, w := chartLeft, 2.0
		if !s.Start.IsZero() {
			x = chartLeft + float64(s.Start.Sub(start))*scale
			stop := s.End
			if stop.IsZero() {
				stop = end
			}
			w = max(float64(stop.Sub(s.Start))*scale, 2)
		}
		fill := map[string]string{"done": "#2e7d32", "failed": "#c62828", "cancelled": "#ef6c00", "skipped": "#9e9e9e"}[s.Phase]
		if fill == "" {
			fill = "#1565c0"
		}
		dur := s.End.Sub(s.Start)
		if s.Start.IsZero() || s.End.IsZero() {
			dur = 0
		}
		title := fmt.Sprintf("%s: %s, %s", s.ID, s.Phase, dur.Round(time.Millisecond))
		if s.Critical {
			title += ", on the critical path"
		}
		bars = append(bars, bar{Label: s.ID, X: x, Y: y, W: w, TextX: 8, TextY: y + 15, Fill: fill, Title: title, Critical: s.Critical})
	}
	for i := 0; i <= 4; i++ {
		at := time.Duration(float64(total) * float64(i) / 4)
		ticks = append(ticks, tick{X: chartLeft + chartWidth*float64(i)/4, Label: at.Round(time.Millisecond).String()})
	}
	return bars, 20 + float64(len(steps))*rowHeight + 20, ticks
}

type tick struct {
	X     float64
	Label string
}

// HTML writes the report as one self-contained page.
func HTML(w io.Writer, d *Document) error {
	bars, height, ticks := timeline(d)
	verdict := "PASSED"
	if !d.Passed() || (d.Phase != "" && d.Phase != "done") {
		verdict = "FAILED"
	}
	return page.Execute(w, map[string]any{
		"D": d, "Bars": bars, "Height": height, "AxisY": height - 12, "Ticks": ticks, "Verdict": verdict,
		"Width": chartLeft + chartWidth + 20,
	})
}

// percent shows an error percentage, "–" when there is none.
func percent(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", *p)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"dur":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"lower": strings.ToLower,
	"pct":   percent,
	"path":  func(ids []string) string { return strings.Join(ids, " → ") },
	"mdur": func(d *time.Duration) string {
		if d == nil {
			return "–"
		}
		return d.Round(time.Millisecond).String()
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.D.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.verdict{font-size:1.4em}
tr.critical td:first-child{font-weight:bold}
</style></head><body>
<h1>{{.D.Title}}</h1>
<p class="verdict {{if eq .Verdict "PASSED"}}pass{{else}}fail{{end}}" id="verdict">{{.Verdict}}</p>
<table>
<tr><th>operation</th><td>{{.D.Kind}} {{.D.RunID}}</td></tr>
<tr><th>stack</th><td>{{.D.Stack}} in {{.D.Region}}</td></tr>
<tr><th>phase</th><td>{{.D.Phase}}</td></tr>
<tr><th>started</th><td>{{ts .D.Start}}</td></tr>
<tr><th>RTO</th><td id="rto">{{dur .D.RTO}}</td></tr>
{{with .D.Prediction}}<tr><th>predicted RTO</th><td id="predicted-rto">{{dur .Predicted}} (error {{pct .ErrorPercent}})</td></tr>{{end}}
</table>
<h2>Timeline</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" role="img" aria-label="step timeline">
{{range .Bars}}{{if .Critical}}<g class="step critical"><text x="{{.TextX}}" y="{{.TextY}}" font-size="13" font-weight="bold">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="18" fill="{{.Fill}}" stroke="#000" stroke-width="3"><title>{{.Title}}</title></rect></g>
{{else}}<g class="step"><text x="{{.TextX}}" y="{{.TextY}}" font-size="13">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="18" fill="{{.Fill}}"><title>{{.Title}}</title></rect></g>
{{end}}{{end}}{{range .Ticks}}<text x="{{.X}}" y="{{$.AxisY}}" font-size="11" text-anchor="middle">{{.Label}}</text>
{{end}}</svg>
{{if .D.CriticalPath}}<p id="critical-path">Critical path (outlined, in bold): {{path .D.CriticalPath}}</p>{{end}}
{{with .D.Prediction}}<h2>Predicted and measured</h2>
<p>Predicted before the run from {{.Basis}}: {{dur .Predicted}}, critical path {{path .PredictedPath}}. Measured: {{dur .Measured}}{{if .MeasuredPath}}, critical path {{path .MeasuredPath}}{{end}}. Error {{pct .ErrorPercent}}.</p>
<table id="prediction"><tr><th>step</th><th>predicted</th><th>from</th><th>measured</th><th>error</th></tr>
{{range .Steps}}<tr><td>{{.ID}}</td><td>{{dur .Predicted}}</td><td>{{.From}}</td><td>{{mdur .Measured}}</td><td>{{pct .ErrorPercent}}</td></tr>
{{end}}<tr><th>RTO</th><th>{{dur .Predicted}}</th><th></th><th>{{dur .Measured}}</th><th>{{pct .ErrorPercent}}</th></tr></table>{{end}}
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>result</th><th>detail</th></tr>
{{range .D.Checks}}<tr><td>{{.Name}}</td><td class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}pass{{else}}FAIL{{end}}</td><td>{{.Detail}}</td></tr>
{{else}}<tr><td colspan="3">no checks</td></tr>{{end}}</table>
<h2>Recovery points and RPO</h2>
<table><tr><th>resource</th><th>point</th><th>taken</th><th>RPO</th></tr>
{{range .D.Points}}<tr><td>{{.Resource}}</td><td>{{.ID}}</td><td>{{ts .Time}}</td><td>{{dur .RPO}}</td></tr>{{end}}</table>
<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>phase</th><th>start</th><th>end</th><th>critical path</th><th>error</th></tr>
{{range .D.Steps}}<tr{{if .Critical}} class="critical"{{end}}><td>{{.ID}}</td><td>{{.Phase}}</td><td>{{ts .Start}}</td><td>{{ts .End}}</td><td>{{if .Critical}}yes{{end}}</td><td>{{.Error}}</td></tr>{{end}}</table>
{{if .D.Resources}}<h2>Resources</h2><ul>{{range .D.Resources}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .D.Notes}}<h2>Notes</h2><ul>{{range .D.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
