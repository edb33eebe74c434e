package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIAMPolicyVerb: the document parses as an IAM policy, in aws-cn for
// the example's cn-* regions, without an AWS call when --account is given.
func TestIAMPolicyVerb(t *testing.T) {
	code, out, errOut := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "backup,replicate", "--account", "123456789012")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "arn:aws-cn:rds:cn-northwest-1:123456789012:snapshot:wordpress-*") || strings.Contains(out, "arn:aws:") {
		t.Fatalf("partition or scope wrong:\n%s", out)
	}
	if code, _, _ := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "everything", "--account", "1"); code != ExitUsage {
		t.Fatalf("bad --for: exit %d", code)
	}
}

func TestDeployZipOnly(t *testing.T) {
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("no /bin/true")
	}
	zip := filepath.Join(t.TempDir(), "pl.zip")
	code, out, errOut := run(t, "deploy", "--config", "../../examples/wordpress/pilotlight.yaml", "--binary", "/bin/true", "--zip-only", zip, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Files []string `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !strings.Contains(strings.Join(res.Files, ","), "bootstrap,pilotlight,pilotlight.yaml") {
		t.Fatalf("%v %s", err, out)
	}
	// L6: the zip holds the config and the user-data template.
	if fi, err := os.Stat(zip); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("zip mode %v %v, want 0600", fi.Mode(), err)
	}
	if code, _, _ := run(t, "deploy", "--config", "../../examples/wordpress/pilotlight.yaml", "--binary", "/bin/true", "--timeout", "20m"); code != ExitUsage {
		t.Fatalf("--timeout 20m: exit %d", code)
	}
}
