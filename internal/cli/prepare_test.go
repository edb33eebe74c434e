package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// TestPrepareDryRun (#19): `prepare --dry-run` prints what it would build,
// builds nothing, and is recorded as a dry-run prepare; after a real
// prepare it says there is nothing to do.
func TestPrepareDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts, env := primaryWithDB(ctx, t)
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
state: { path: `+filepath.Join(t.TempDir(), "state")+` }
protect:
  databases:
    - { id: wordpress-db, keep: { primary: 2, dr: 2 } }
`)
	run := cliRunner(ctx, envOpts, cfgPath)
	vpcs := func() int {
		t.Helper()
		out, err := ec2.NewFromConfig(env.For("cn-north-1")).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Vpcs)
	}
	before := vpcs()

	code, out, errOut := run("prepare", "--dry-run")
	if code != 0 || !strings.Contains(out, "would create vpc") || !strings.Contains(out, "would create DB subnet group") ||
		!strings.Contains(out, "dry run: nothing was changed in cn-north-1") {
		t.Fatalf("prepare --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := vpcs(); got != before {
		t.Fatalf("the dry run made a VPC: %d VPCs, were %d", got, before)
	}
	if code, out, errOut := run("prepare"); code != 0 || !strings.Contains(out, "+ created vpc") {
		t.Fatalf("prepare: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := run("prepare", "--dry-run"); code != 0 || !strings.Contains(out, "no changes") || strings.Contains(out, "would") {
		t.Fatalf("prepare --dry-run after prepare: exit %d\n%s\n%s", code, out, errOut)
	}

	cfg, err := spec.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := operation.List(ctx, store, cfg.Stack)
	if err != nil {
		t.Fatal(err)
	}
	var dry, real int
	for _, r := range recs {
		switch {
		case r.Kind != operation.KindPrepare:
		case r.DryRun:
			dry++
		default:
			real++
		}
	}
	if dry != 2 || real != 1 {
		t.Fatalf("recorded %d dry-run and %d real prepares, want 2 and 1", dry, real)
	}
	// runs says which of them changed nothing.
	code, out, errOut = run("runs", "--kind", "prepare", "-o", "json")
	if code != 0 || strings.Count(strings.ReplaceAll(out, " ", ""), `"dry_run":true`) != 2 {
		t.Fatalf("runs -o json does not mark the dry runs: %d %s %s", code, out, errOut)
	}
}
