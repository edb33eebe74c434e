package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverWithoutTerminalNeedsYes: a script that forgot --yes is told
// what to pass, before any AWS call (the plan would have read AWS first).
func TestFailoverWithoutTerminalNeedsYes(t *testing.T) {
	if isTerminal(os.Stdin) {
		t.Skip("stdin is a terminal")
	}
	proxy, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	cfgPath := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(cfgPath, []byte("stack: wordpress\nprimary: { region: cn-northwest-1 }\ndr: { region: cn-north-1 }\nprotect:\n  databases:\n    - { id: wordpress-db }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errb, EnvOptions: testenv.Options(proxy.URL)}
	code := RunApp(ctx, app, []string{"--config", cfgPath, "failover"})
	if code != ExitUsage || !strings.Contains(errb.String(), "failover needs --yes") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if n := len(proxy.Calls()); n != 0 {
		t.Errorf("%d AWS calls before refusing: %+v", n, proxy.Calls())
	}
}

// TestFailoverReportLineIsACommand: the report line is something a user
// can run, not a key inside the state store.
func TestFailoverReportLineIsACommand(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, &recovery.Report{Kind: "failover", RunID: "failover-20261207-050000-ab12", Stack: "wordpress", Region: "cn-north-1"},
		"reports/failover-20261207-050000-ab12/report.json")
	if !strings.Contains(b.String(), "report: pilotlight reports failover-20261207-050000-ab12 --html failover-20261207-050000-ab12.html") {
		t.Fatalf("report line:\n%s", b.String())
	}
}
