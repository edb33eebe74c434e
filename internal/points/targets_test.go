package points

import (
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// TestOnlyResolution checks that --only for points follows spec's one rule
// (order given, once each, all unknown names in one error) and that naming
// a bucket says why it cannot be chosen.
func TestOnlyResolution(t *testing.T) {
	cfg, err := spec.Parse("test.yaml", []byte(`stack: wp
primary: { region: us-east-1 }
dr: { region: us-west-2 }
protect:
  databases:
    - id: db1
  images:
    - name: web
      instance: { tag: { Role: web } }
  buckets:
    - { name: assets, source: wp-assets, replica: wp-assets-dr }
`))
	if err != nil {
		t.Fatal(err)
	}
	names := func(ts []target) string {
		var out []string
		for _, tg := range ts {
			out = append(out, tg.name)
		}
		return strings.Join(out, ",")
	}
	all, err := targets(cfg, nil)
	if err != nil || names(all) != "db1,web" {
		t.Fatalf("all: %s, %v", names(all), err)
	}
	some, err := targets(cfg, []string{"web", "db1", "web"})
	if err != nil || names(some) != "web,db1" {
		t.Fatalf("--only web,db1,web: %s, %v", names(some), err)
	}
	_, err = targets(cfg, []string{"assets", "dbx"})
	if err == nil {
		t.Fatal("--only assets,dbx: want an error")
	}
	for _, want := range []string{"assets, dbx", "have db1, web", "databases and images only"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = targets(cfg, []string{"dbx"})
	if err == nil || strings.Contains(err.Error(), "buckets") {
		t.Errorf("--only dbx: %v", err)
	}
}
