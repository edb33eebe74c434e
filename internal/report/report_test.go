package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() *Document {
	t0 := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	return &Document{
		Title: "drill of wordpress", Kind: "drill", RunID: "r1", Stack: "wordpress", Region: "cn-north-1", Phase: "done",
		Start: t0, End: t0.Add(10 * time.Second), RTO: 10 * time.Second,
		Points: []Point{{Resource: "wordpress-db", ID: "wordpress-wordpress-db-20261125050000", Time: t0.Add(-time.Hour), RPO: time.Hour}},
		Checks: []Check{{Name: "database available", Pass: true, Detail: "ok"}, {Name: "rpo <script>", Pass: false, Detail: "1h over"}},
		Steps: []Step{
			{ID: "points", Phase: "done", Start: t0, End: t0.Add(time.Second)},
			{ID: "database", Phase: "done", Start: t0.Add(time.Second), End: t0.Add(8 * time.Second)},
			{ID: "cache", Phase: "done", Start: t0.Add(time.Second), End: t0.Add(4 * time.Second)},
			{ID: "app", Phase: "failed", Start: t0.Add(8 * time.Second), End: t0.Add(10 * time.Second), Error: "boom"},
		},
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script", "http://", "https://", "<link", "src="} {
		if bad == "http://" && strings.Count(s, "http://") == 1 && strings.Contains(s, `xmlns="http://www.w3.org/2000/svg"`) {
			continue // the SVG namespace is a name, not a fetch
		}
		if strings.Contains(s, bad) {
			t.Fatalf("report refers outside itself or is unescaped: %q", bad)
		}
	}
	for _, want := range []string{"FAILED", "database", "cache", "<svg", "rpo &lt;script&gt;"} {
		if !strings.Contains(s, want) {
			t.Fatalf("report lacks %q", want)
		}
	}
}

// Parallel steps stand side by side: database and cache start together.
func TestTimelineParallelStepsShareStart(t *testing.T) {
	bars, _, _ := timeline(sample())
	x := map[string]float64{}
	for _, b := range bars {
		x[b.Label] = b.X
	}
	if x["database"] != x["cache"] || x["app"] <= x["database"] {
		t.Fatalf("bars: %+v", x)
	}
}

// TestRendersInChromium opens the report in headless Chromium and checks
// that every step name and the verdict are in the rendered DOM.
func TestRendersInChromium(t *testing.T) {
	bin := ""
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	d := sample()
	if err := HTML(&b, d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+p).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, s := range d.Steps {
		if !strings.Contains(dom, ">"+s.ID+"<") {
			t.Fatalf("rendered DOM lacks step %q", s.ID)
		}
	}
	if !strings.Contains(dom, `id="verdict">FAILED`) || !strings.Contains(dom, "<rect") {
		t.Fatal("verdict or timeline missing from the rendered DOM")
	}
}

// TestCriticalPathAndPredictionShown: the steps on the critical path
// stand out on the timeline (outlined, bold label, a title that says so)
// and in the steps table; the prediction made before the run is shown
// against the measured RTO, per step and in total, with the error.
func TestCriticalPathAndPredictionShown(t *testing.T) {
	d := sample()
	d.Phase = "done"
	d.Steps[3].Phase, d.Steps[3].Error = "done", ""
	d.Checks = d.Checks[:1]
	for _, i := range []int{0, 1, 3} {
		d.Steps[i].Critical = true
	}
	d.CriticalPath = []string{"points", "database", "app"}
	errPct, dbErr := 20.0, -12.5
	measuredDB := 7 * time.Second
	d.Prediction = &Prediction{Predicted: 12 * time.Second, Measured: 10 * time.Second, ErrorPercent: &errPct, Basis: "AWS's typical step times",
		PredictedPath: []string{"database", "app"}, MeasuredPath: d.CriticalPath,
		Steps: []PredictedStep{{ID: "database", From: "table", Predicted: 6125 * time.Millisecond, Measured: &measuredDB, ErrorPercent: &dbErr}, {ID: "cache", From: "table", Predicted: 3 * time.Second}}}
	bars, _, _ := timeline(d)
	for _, b := range bars {
		if b.Critical != (b.Label != "cache") {
			t.Fatalf("bar %s critical=%v", b.Label, b.Critical)
		}
	}
	var b bytes.Buffer
	if err := HTML(&b, d); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if n := strings.Count(s, `<g class="step critical">`); n != 3 {
		t.Fatalf("%d critical bars, want 3:\n%s", n, s)
	}
	if strings.Count(s, `<g class="step">`) != 1 || strings.Count(s, `stroke="#000"`) != 3 || strings.Count(s, `<tr class="critical">`) != 3 {
		t.Fatalf("critical steps not marked apart from the others:\n%s", s)
	}
	for _, want := range []string{
		`id="critical-path">Critical path (outlined, in bold): points → database → app<`,
		`id="predicted-rto">12s (error &#43;20.0%)<`, // html/template escapes "+"
		`<td>database</td><td>6.125s</td><td>table</td><td>7s</td><td>-12.5%</td>`,
		`<td>cache</td><td>3s</td><td>table</td><td>–</td><td>–</td>`,
		"app: done, 2s, on the critical path",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("report lacks %q:\n%s", want, s)
		}
	}
	// Without a prediction or a path, nothing of either is shown.
	var plain bytes.Buffer
	if err := HTML(&plain, sample()); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{`class="step critical"`, `class="critical"`, `id="critical-path"`, `id="predicted-rto"`, `id="prediction"`} {
		if strings.Contains(plain.String(), absent) {
			t.Fatalf("a report without them shows %q", absent)
		}
	}
}
