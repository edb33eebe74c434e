package serve

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pilotlight/pilotlight/internal/points"
)

// Handler serves /metrics (Prometheus text format), /healthz and the
// status page at /.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /status.json", d.statusJSON)
	mux.HandleFunc("GET /{$}", d.page)
	return mux
}

// Health is the /healthz answer. It is liveness: 200 while the daemon
// schedules, 503 once it is shutting down or while a run is stuck past
// StuckAfter (a restart frees it). A late resource does not make the
// daemon unhealthy (restarting it would not help); Late names it.
type Health struct {
	Status  string   `json:"status"`
	Running []string `json:"running"`
	Late    []string `json:"late"`
	Stuck   []string `json:"stuck,omitempty"`
}

func (d *Daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	h := Health{Status: "ok", Running: d.Running(), Late: []string{}}
	for _, r := range d.rows() {
		if r.Late {
			h.Late = append(h.Late, r.Resource)
		}
	}
	if h.Running == nil {
		h.Running = []string{}
	}
	code := http.StatusOK
	h.Stuck = d.Stuck()
	switch {
	case d.stopping.Load() || !d.running.Load():
		h.Status, code = "stopping", http.StatusServiceUnavailable
	case len(h.Stuck) > 0:
		h.Status, code = "stuck", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}

// Row is one resource on the status page and in /status.json.
type Row struct {
	Resource   string        `json:"resource"`
	Kind       string        `json:"kind"`
	Schedule   string        `json:"schedule"`
	Running    bool          `json:"running"`
	Next       time.Time     `json:"next,omitzero"`
	Last       *Result       `json:"last,omitempty"`
	NewestDR   time.Duration `json:"newest_dr_age_ns,omitempty"`
	HasDR      bool          `json:"has_dr"`
	TargetRPO  time.Duration `json:"target_rpo_ns,omitempty"`
	Late       bool          `json:"late"`
	LastResult string        `json:"last_result"`
}

func (d *Daemon) rows() []Row {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Row, 0, len(d.opts.Jobs))
	for _, j := range d.opts.Jobs {
		st := d.status[j.Resource]
		r := Row{Resource: j.Resource, Kind: j.Kind, Schedule: j.Schedule.String(), Running: st.Running,
			Next: st.Next, Last: st.Last, TargetRPO: j.TargetRPO, LastResult: "never run"}
		if age, ok := d.metrics.drAge.age(j.Resource, j.Kind); ok {
			r.NewestDR, r.HasDR = age, true
			r.Late = points.OverRPO(age, j.TargetRPO)
		}
		if st.Last != nil {
			switch {
			case st.Last.Interrupted:
				r.LastResult = "interrupted"
			case st.Last.OK:
				r.LastResult = "ok"
			default:
				r.LastResult = "failed"
			}
			if v := st.Last.Verify; v != nil && !v.Converged {
				r.LastResult += ", not converged"
			}
		}
		out = append(out, r)
	}
	return out
}

func (d *Daemon) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d.rows())
}

var pageTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"in": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return "in " + time.Until(t).Round(time.Second).String()
	},
	"dur": func(x time.Duration) string { return x.Round(time.Second).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>pilotlight · {{.Stack}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.35em .8em;border-bottom:1px solid #ddd;text-align:left}
.ok{color:#197a2e}.bad{color:#b3261e;font-weight:600}.run{color:#8a6d00}
small{color:#666}
</style></head><body>
<h1>pilotlight · {{.Stack}}</h1>
<p>{{if .Stopping}}<span class="bad">shutting down</span>{{else}}<span class="ok">scheduling</span>{{end}}
 · up {{dur .Up}} · <a href="/metrics">metrics</a> · <a href="/status.json">json</a></p>
<table><tr><th>resource</th><th>kind</th><th>schedule</th><th>last run</th><th>result</th><th>newest DR point</th><th>next run</th></tr>
{{range .Rows}}<tr>
<td>{{.Resource}}</td><td>{{.Kind}}</td><td><code>{{.Schedule}}</code></td>
<td>{{if .Running}}<span class="run">running</span>{{else if .Last}}{{ago .Last.Ended}}{{else}}—{{end}}</td>
<td>{{if eq .LastResult "ok"}}<span class="ok">ok</span>{{else if not .Last}}never run{{else}}<span class="bad">{{.LastResult}}</span>{{end}}
{{with .Last}}{{if .Error}}<br><small>{{.Error}}</small>{{end}}{{if .Pending}}<br><small>protect job {{.JobPhase}}{{if .Queued}}, queued for a copy slot{{end}}, started {{ago .JobStarted}}</small>{{end}}{{if .VerifyIncomplete}}<br><small>verify continues next run</small>{{end}}{{with .Verify}}<br><small>pending {{.Pending}}, missing {{.Missing}}, different {{.Different}}, lag {{dur .Lag}}</small>{{end}}{{end}}</td>
<td>{{if .HasDR}}<span class="{{if .Late}}bad{{else}}ok{{end}}">{{dur .NewestDR}} old</span>{{if .TargetRPO}} <small>(target {{dur .TargetRPO}})</small>{{end}}{{else}}—{{end}}</td>
<td>{{in .Next}}</td>
</tr>{{end}}
</table></body></html>
`))

func (d *Daemon) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, map[string]any{
		"Stack": d.opts.Stack, "Rows": d.rows(), "Stopping": d.stopping.Load(),
		"Up": d.opts.Now().Sub(d.started),
	})
}
