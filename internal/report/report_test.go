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
