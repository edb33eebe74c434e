package recovery_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// As a user would: failback --write-config, then `teardown --kind
// old-primary`. Its dry run names the old DB and the protect.images note
// failback printed, and refuses; once the selector follows the note, the
// dry run lists the old production, and the run retires it under a
// recorded teardown whose results name each resource.
func TestCLIRetireOldPrimaryAfterFailback(t *testing.T) {
	url, env, cfg, out := failBackThroughCLI(t, "cn-north-1", "cn-northwest-1", spec.DNSFailoverRecords)
	if !strings.Contains(out, "pilotlight teardown --kind old-primary") {
		t.Fatalf("failback does not name the command that retires the old production:\n%s", out)
	}
	code, out, _ := runCLI(t, url, "teardown", "--kind", "old-primary", "--dry-run", "--config", cfg.File)
	if code == 0 || !strings.Contains(out, "refused: protect.images web still selects instance") || !strings.Contains(out, "shop-db") {
		t.Fatalf("dry run with protect.images on the old instance: exit %d\n%s", code, out)
	}
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	sel := regexp.MustCompile(`instance: \{ tag: \{[^}]*\} \}`)
	if err := os.WriteFile(cfg.File, sel.ReplaceAll(raw, []byte(`instance: { tag: { "aws:autoscaling:groupName": shop-app-fb1 } }`)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, url, "teardown", "--kind", "old-primary", "--dry-run", "-o", "json", "--config", cfg.File)
	var dry recovery.Retirement
	if code != 0 || json.Unmarshal([]byte(out), &dry) != nil || !dry.DryRun || !dry.Deletes() {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, it := range dry.Items {
		if it.Type == recovery.RetireRDSInstance && (it.ID != "shop-db" || it.Phase != recovery.RetireDelete || it.FinalSnapshot == "") {
			t.Fatalf("dry run DB item: %+v", it)
		}
	}
	code, out, errOut = runCLI(t, url, "teardown", "--kind", "old-primary", "--yes", "--config", cfg.File)
	t.Log(out)
	if code != 0 || !strings.Contains(out, "deleted") || !strings.Contains(out, "rds-instance") {
		t.Fatalf("retire: exit %d\n%s\n%s", code, out, errOut)
	}
	if c := recovery.Counts(t, env, cfg.Primary.Region); c["db"] != 1 || c["asg"] != 1 {
		t.Fatalf("primary after retiring the old production: %v, want the failback's DB and app alone", c)
	}
	store, err := state.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := operation.List(context.Background(), store, cfg.Stack)
	if err != nil || len(recs) == 0 || recs[0].Kind != operation.KindTeardown || recs[0].Meta["of"] != recovery.KindOldPrimary || recs[0].Phase != operation.PhaseCompleted {
		t.Fatalf("newest record after the retire: %v %+v", err, recs[0])
	}
	found := false
	for _, r := range recs[0].Results {
		found = found || (r.Resource == "rds-instance/shop-db" && r.Phase == operation.PhaseCompleted && strings.HasPrefix(r.Detail, "deleted"))
	}
	if !found {
		t.Fatalf("the teardown record does not say shop-db was deleted: %+v", recs[0].Results)
	}
}
