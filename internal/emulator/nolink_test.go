package emulator

import (
	"os/exec"
	"strings"
	"testing"
)

// The demo ships inside the pilotlight binary and uses this package, so
// this package (and everything else the binary links) must stay free of
// testing: its flags and its init would ship to users.
func TestShippedBinaryDoesNotLinkTesting(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/pilotlight/pilotlight/cmd/pilotlight").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Split(string(out), "\n") {
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") || strings.HasSuffix(pkg, "/internal/testenv") {
			t.Errorf("cmd/pilotlight links %s", pkg)
		}
	}
}
