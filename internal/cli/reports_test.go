package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// TestInterruptedRecoveryReportIsStoredWithHTML: a failover and a failback
// interrupted mid-step (as by SIGINT) still store their report, JSON and
// HTML, so that `reports` lists them and `reports ID --html F` writes the
// page (L3, L4). The AWS calls go to a loopback listener that never
// answers, so that the run is in a step when it is cancelled.
func TestInterruptedRecoveryReportIsStoredWithHTML(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dir := t.TempDir()
	for _, f := range []string{"pilotlight.yaml", "user-data.sh.tmpl"} {
		data, err := os.ReadFile(filepath.Join("../../examples/wordpress", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "pilotlight.yaml")
	cfg, err := spec.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// No app secret to find in the DR region: the failover must get past
	// its pre-check (which would fail on this silent endpoint) into a step.
	cfg.Recover.App.Vars["db_password_parameter"] = ""
	env, err := awsenv.Load(context.Background(), awsenv.Options{Endpoint: "http://" + l.Addr().String(), ResponseTimeout: 2 * time.Second,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, kind := range []operation.Kind{operation.KindFailover, operation.KindFailback} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		out, err := operation.Recover(ctx, operation.Deps{Store: store}, cfg, env, kind, operation.RecoverOptions{})
		cancel()
		if err == nil || out == nil || out.Journal == nil {
			t.Fatalf("%s: not interrupted in a step: %v", kind, err)
		}
		if out.Record.Report == "" || len(out.HTML) == 0 {
			t.Fatalf("%s: the interrupted run's report was not stored: %+v", kind, out.Record)
		}
		ids = append(ids, out.Journal.ID)
	}
	store.Close()

	code, listed, errOut := run(t, "reports", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("reports: exit %d: %s", code, errOut)
	}
	for _, id := range ids {
		if !strings.Contains(listed, id) {
			t.Errorf("reports does not list %s:\n%s", id, listed)
		}
		page := filepath.Join(t.TempDir(), "r.html")
		code, _, errOut := run(t, "reports", "--config", cfgPath, id, "--html", page)
		if code != 0 {
			t.Fatalf("reports %s --html: exit %d: %s", id, code, errOut)
		}
		if data, err := os.ReadFile(page); err != nil || !strings.Contains(string(data), "<html") {
			t.Errorf("reports %s --html wrote %d bytes: %v", id, len(data), err)
		}
	}
}

// TestReportOfAnUnknownRun: asking for the report of a run that has none
// (a teardown, a typo) says where reports come from and exits 2.
func TestReportOfAnUnknownRun(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(cfgPath, []byte("stack: wordpress\nprimary: { region: cn-northwest-1 }\ndr: { region: cn-north-1 }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "reports", "--config", cfgPath, "teardown-20261207-031742-8fb4", "--html", filepath.Join(dir, "r.html"))
	if code != ExitUsage || !strings.Contains(errOut, "reports are kept for failovers, drills and failbacks") || !strings.Contains(errOut, "`pilotlight runs` lists every operation") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
