package runbook

import (
	"context"
	"strings"
	"testing"
	"time"
)

func noop(context.Context, *RunContext) (Outputs, error) { return nil, nil }

// st builds a step from "id<-need,need".
func st(spec string) Step {
	id, needs, _ := strings.Cut(spec, "<-")
	s := Step{ID: id, Run: noop, Plan: "make " + id}
	if needs != "" {
		s.Needs = strings.Split(needs, ",")
	}
	return s
}

func sts(specs ...string) []Step {
	var out []Step
	for _, s := range specs {
		out = append(out, st(s))
	}
	return out
}

func ids(steps []Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.ID)
	}
	return strings.Join(out, " ")
}

func TestGraphOrder(t *testing.T) {
	cases := []struct {
		name  string
		steps []Step
		want  string
	}{
		{"empty", nil, ""},
		{"independent keep declaration order", sts("c", "a", "b"), "c a b"},
		{"chain declared backwards", sts("dns<-app", "app<-db", "db<-network", "network"), "network db app dns"},
		{"diamond", sts("d<-b,c", "b<-a", "c<-a", "a"), "a b c d"},
		{"failover shape", sts("points", "network", "db<-points,network", "cache<-network", "lb<-network", "lt<-db,cache", "app<-lt,lb", "dns<-app,lb"),
			"points network db cache lb lt app dns"},
		{"ready steps by declaration, not discovery", sts("x<-a", "a", "y"), "a x y"},
		{"duplicate need counted once", sts("b<-a,a", "a"), "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(c.steps...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(g.Steps()); got != c.want {
				t.Fatalf("order %q, want %q", got, c.want)
			}
			// Every step comes after what it needs.
			pos := map[string]int{}
			for i, s := range g.Steps() {
				for _, n := range s.Needs {
					if _, ok := pos[n]; !ok {
						t.Fatalf("%s before its need %s", s.ID, n)
					}
				}
				pos[s.ID] = i
			}
		})
	}
}

func TestGraphErrors(t *testing.T) {
	cases := []struct {
		name  string
		steps []Step
		want  []string
	}{
		{"unknown dependency", sts("a", "b<-a,ghost"), []string{`step "b" needs unknown step "ghost"`}},
		{"duplicate id", sts("a", "a"), []string{`step "a" is declared twice`}},
		{"empty id", []Step{{Run: noop}}, []string{"step 1 has no id"}},
		{"self", sts("a<-a"), []string{`step "a" needs itself`}},
		{"two-cycle", sts("a<-b", "b<-a"), []string{"dependency cycle: a -> b -> a"}},
		{"three-cycle behind a root", sts("root", "x<-root,z", "y<-x", "z<-y", "tail<-z"), []string{"dependency cycle:", "x -> z -> y -> x"}},
		{"all problems at once", sts("a<-nope", "a", "b<-zip"), []string{"declared twice", `"nope"`, `"zip"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.steps...)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCriticalPath(t *testing.T) {
	s := time.Second
	cases := []struct {
		name  string
		steps []Step
		dur   map[string]time.Duration
		want  time.Duration
		path  string
	}{
		{"none", nil, nil, 0, ""},
		{"parallel takes the longest", sts("a", "b", "c"), map[string]time.Duration{"a": s, "b": 3 * s, "c": 2 * s}, 3 * s, "b"},
		{"chain sums", sts("a", "b<-a", "c<-b"), map[string]time.Duration{"a": s, "b": s, "c": s}, 3 * s, "a b c"},
		{"diamond takes the slow side", sts("a", "b<-a", "c<-a", "d<-b,c"), map[string]time.Duration{"a": s, "b": 5 * s, "c": 2 * s, "d": s}, 7 * s, "a b d"},
		{"failover: the restore dominates", sts("points", "network", "db<-points,network", "cache<-network", "app<-db,cache", "dns<-app"),
			map[string]time.Duration{"points": s, "network": 2 * s, "db": 600 * s, "cache": 300 * s, "app": 120 * s, "dns": 60 * s}, 782 * s, "network db app dns"},
		{"missing durations weigh nothing", sts("a", "b<-a"), map[string]time.Duration{"b": s}, s, "a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(c.steps...)
			if err != nil {
				t.Fatal(err)
			}
			d, path := g.CriticalPath(c.dur)
			if d != c.want || strings.Join(path, " ") != c.path {
				t.Fatalf("got %v %v, want %v %q", d, path, c.want, c.path)
			}
		})
	}
}

func TestPlanText(t *testing.T) {
	g, err := New(sts("network", "points", "db<-points,network", "app<-db", "dns<-app")...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	g.PlanText(&b)
	want := `5 steps in 4 waves (steps of a wave run in parallel):
wave 1
  network  make network
  points   make points
wave 2
  db       make db  (after points, network)
wave 3
  app      make app  (after db)
wave 4
  dns      make dns  (after app)
longest chain: points -> db -> app -> dns
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if p := g.Plan(); len(p) != 5 || p[2].ID != "db" || p[2].Wave != 2 {
		t.Fatalf("plan %+v", p)
	}
}
