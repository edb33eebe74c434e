package points

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// pt is a managed available point created h hours before t0.
func pt(id string, h int) Point {
	return Point{ID: id, Created: t0.Add(-time.Duration(h) * time.Hour), Status: StatusAvailable, Managed: true}
}

func with(p Point, f func(*Point)) Point { f(&p); return p }

func TestPrune(t *testing.T) {
	keep := func(p, d int, maxAge time.Duration) spec.Keep {
		return spec.Keep{Primary: p, DR: d, MaxAge: spec.Duration{D: maxAge}}
	}
	foreign := func(p Point) Point { return with(p, func(p *Point) { p.Managed = false }) }
	status := func(s string) func(*Point) { return func(p *Point) { p.Status = s } }
	cases := []struct {
		name    string
		points  []Point
		keep    spec.Keep
		region  string
		protect string
		want    []string
	}{
		{"keeps the newest N in primary", []Point{pt("a", 1), pt("b", 2), pt("c", 3), pt("d", 4)}, keep(2, 9, 0), "primary", "", []string{"c", "d"}},
		{"dr uses keep.dr", []Point{pt("a", 1), pt("b", 2), pt("c", 3), pt("d", 4)}, keep(9, 3, 0), "dr", "", []string{"d"}},
		{"order comes from Created, not input order", []Point{pt("d", 4), pt("a", 1), pt("c", 3), pt("b", 2)}, keep(1, 1, 0), "primary", "", []string{"b", "c", "d"}},
		{"foreign points are never deleted nor counted", []Point{foreign(pt("f0", 0)), pt("a", 1), foreign(pt("f9", 9)), pt("b", 2)}, keep(1, 1, 0), "primary", "", []string{"b"}},
		{"newest point with a complete DR copy is kept in primary", []Point{pt("new1", 1), pt("new2", 2), pt("copied", 5), pt("old", 6)}, keep(2, 2, 0), "primary", "copied", []string{"old"}},
		{"its copy is kept in DR", []Point{pt("x1", 1), pt("x2", 2), with(pt("ami-9", 5), func(p *Point) { p.CopyOf = "ami-1" }), pt("x6", 6)}, keep(9, 1, 0), "dr", "ami-1", []string{"x2", "x6"}},
		{"points in progress are neither deleted nor counted", []Point{with(pt("run", 0), status(StatusCreating)), with(pt("cp", 9), status(StatusCopying)), pt("a", 1), pt("b", 2)}, keep(1, 1, 0), "primary", "", []string{"b"}},
		{"failed managed points are deleted", []Point{with(pt("bad", 0), status(StatusFailed)), pt("a", 1), with(foreign(pt("fbad", 1)), status(StatusFailed))}, keep(5, 5, 0), "primary", "", []string{"bad"}},
		{"max age keeps younger points beyond N", []Point{pt("a", 1), pt("b", 2), pt("c", 3), pt("d", 30)}, keep(1, 1, 24*time.Hour), "primary", "", []string{"d"}},
		{"max age does not shorten N", []Point{pt("a", 1), pt("b", 48), pt("c", 72)}, keep(2, 2, 24*time.Hour), "primary", "", []string{"c"}},
		{"keep 0 still keeps one", []Point{pt("a", 1), pt("b", 2)}, keep(0, 0, 0), "dr", "", []string{"b"}},
		{"ties break by id", []Point{pt("s1", 1), pt("s2", 1), pt("s3", 1)}, keep(2, 2, 0), "primary", "", []string{"s1"}},
		{"nothing to do", nil, keep(1, 1, 0), "primary", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Prune(c.points, c.keep, c.region, c.protect, t0)
			var gotIDs []string
			for _, p := range got {
				gotIDs = append(gotIDs, p.ID)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(c.want) {
				t.Fatalf("deleted %v, want %v", gotIDs, c.want)
			}
		})
	}
}

// TestPruneNeverDeletesForeignOrProtected checks the invariants over many
// generated inputs.
func TestPruneNeverDeletesForeignOrProtected(t *testing.T) {
	for seed := 0; seed < 500; seed++ {
		var ps []Point
		n := seed%17 + 1
		for i := 0; i < n; i++ {
			p := pt(fmt.Sprintf("p%02d", i), (i*7+seed)%23)
			p.Managed = (i+seed)%4 != 0
			p.Status = []string{StatusAvailable, StatusAvailable, StatusAvailable, StatusCreating, StatusFailed}[(i*3+seed)%5]
			ps = append(ps, p)
		}
		protect := fmt.Sprintf("p%02d", seed%n)
		k := spec.Keep{Primary: seed%4 + 1, DR: seed%3 + 1}
		for _, region := range []string{"primary", "dr"} {
			del := Prune(ps, k, region, protect, t0)
			kept := 0
			for _, p := range ps {
				deleted := false
				for _, d := range del {
					deleted = deleted || d.ID == p.ID
				}
				if deleted && (!p.Managed || p.ID == protect || p.inProgress()) {
					t.Fatalf("seed %d: deleted %+v", seed, p)
				}
				if !deleted && p.Managed && p.Available() {
					kept++
				}
			}
			want := k.Primary
			if region == "dr" {
				want = k.DR
			}
			avail := 0
			for _, p := range ps {
				if p.Managed && p.Available() {
					avail++
				}
			}
			if kept < min(want, avail) {
				t.Fatalf("seed %d %s: kept %d available points, want at least %d", seed, region, kept, min(want, avail))
			}
		}
	}
}

var rdsIDRe = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-[A-Za-z0-9])*$`)

func TestPointNames(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
	if got := pointName("wordpress", "wordpress-db", at, rdsIDMax); got != "wordpress-wordpress-db-20260101190405" {
		t.Fatalf("name %q (must be UTC)", got)
	}
	long := strings.Repeat("a", 30) + "-" + strings.Repeat("b", 32)
	other := strings.Repeat("a", 30) + "-" + strings.Repeat("c", 32)
	n1, n2 := pointName("stack", long, at, clusterIDMax), pointName("stack", other, at, clusterIDMax)
	if len(n1) > clusterIDMax || n1 == n2 || !rdsIDRe.MatchString(n1) || !strings.HasSuffix(n1, "-20260101190405") {
		t.Fatalf("cluster names %q %q", n1, n2)
	}
	if n := pointName("stack", long, at, rdsIDMax); !rdsIDRe.MatchString(n) || !strings.Contains(n, long) {
		t.Fatalf("instance name %q", n)
	}
	if n := amiName("wp", "web tier/µ", at); n != "wp-web-tier/-20260101190405" {
		t.Fatalf("ami name %q", n)
	}
	if p := amiPrefix("wp", "web"); p != "wp-web-" {
		t.Fatalf("prefix %q", p)
	}
}

func TestSlotsAreWeightedAndCancellable(t *testing.T) {
	s := newSlots(3)
	r1, err := s.acquire(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, err := s.acquire(ctx, 2); got <- err }()
	cancel()
	if err := <-got; err == nil {
		t.Fatal("a weight-2 acquire with one slot free must wait until cancelled")
	}
	r2, err := s.acquire(context.Background(), 1) // the cancelled acquire gave its slot back
	if err != nil {
		t.Fatal(err)
	}
	r1()
	r1() // releasing twice is harmless
	r2()
	r3, err := s.acquire(context.Background(), 99) // capped at the capacity
	if err != nil {
		t.Fatal(err)
	}
	r3()
	if s.Peak() != 3 || s.held != 0 {
		t.Fatalf("peak %d, held %d", s.Peak(), s.held)
	}
}

func TestCopyQuotasAreSharedPerDestinationRegion(t *testing.T) {
	if regionQuotas("cn-north-1") != regionQuotas("cn-north-1") || regionQuotas("cn-north-1") == regionQuotas("us-west-2") {
		t.Fatal("copy quotas must be one per destination region for the whole process")
	}
	q := newCopyQuotas()
	if cap(q.rds.ch) != 20 || cap(q.cluster.ch) != 5 || cap(q.ebs.ch) != 20 {
		t.Fatalf("quotas %d/%d/%d, want AWS's 20/5/20", cap(q.rds.ch), cap(q.cluster.ch), cap(q.ebs.ch))
	}
}
