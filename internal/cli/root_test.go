package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownProfileExitsUsage: a --profile no config file defines is a
// bad flag (exit 2, naming the profile), not an AWS failure (L8).
func TestUnknownProfileExitsUsage(t *testing.T) {
	dir := t.TempDir()
	// An empty shared config: the profile cannot exist, and no real
	// ~/.aws is read.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, _, errOut := run(t, "points", "--config", "../../examples/wordpress/pilotlight.yaml", "--profile", "nosuch")
	if code != ExitUsage || !strings.Contains(errOut, `no such AWS profile "nosuch"`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The same through a verb that wraps AWS access failures as failures.
	code, _, errOut = run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--profile", "nosuch")
	if code != ExitUsage {
		t.Fatalf("iam-policy: exit %d: %s", code, errOut)
	}
}
