package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(holdLockEnv); cfg != "" {
		os.Exit(holdLock(cfg))
	}
	os.Exit(testenv.Main(m))
}

// run executes the CLI in-process and returns exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateExample(t *testing.T) {
	code, out, errOut := run(t, "validate", "--config", "../../examples/wordpress/pilotlight.yaml")
	if code != 0 || !strings.Contains(out, "valid: stack wordpress: cn-northwest-1 -> cn-north-1") {
		t.Fatalf("code=%d out=%q err=%q", code, out, errOut)
	}
}

func TestValidateFiveMistakes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	src := `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: us-east-1 }
protect:
  databases:
    - id: wordpress-db
      every: sometimes
      keep: { primary: 5, dr: 0 }
      colour: blue
recover:
  database: { from: missing }
`
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "validate", "--config", p)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	lines := 0
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, p+":") {
			lines++
		}
	}
	if lines != 5 || !strings.Contains(errOut, p+":8: protect.databases[0].keep.dr: must be >= 1") {
		t.Fatalf("want 5 file:line errors, got %d:\n%s", lines, errOut)
	}
	code, out, _ := run(t, "validate", "--config", p, "-o", "json")
	var res validateResult
	if code != 2 || json.Unmarshal([]byte(out), &res) != nil || len(res.Problems) != 5 || res.Valid {
		t.Fatalf("json: code=%d %s", code, out)
	}
}

func TestMissingConfigIsUsageError(t *testing.T) {
	code, _, errOut := run(t, "validate", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != 2 || !strings.Contains(errOut, "nope.yaml") {
		t.Fatalf("code=%d err=%s", code, errOut)
	}
}

func TestBadOutputFlag(t *testing.T) {
	if code, _, _ := run(t, "version", "-o", "yaml"); code != 2 {
		t.Fatalf("exit %d", code)
	}
	code, out, _ := run(t, "version", "-o", "json")
	if code != 0 || !strings.Contains(out, `"version"`) {
		t.Fatal(out)
	}
	if code, out, _ := run(t, "completion", "bash"); code != 0 || !strings.Contains(out, "pilotlight") {
		t.Fatal("completion")
	}
}
