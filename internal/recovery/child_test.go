package recovery

import (
	"os"
	"strings"
)

// The crash tests run pilotlight as a real child process: this test binary
// re-executed with PILOTLIGHT_CHILD_ARGS set runs the CLI instead of tests.
// runChild is set by the external test package, which may import the CLI.
var runChild func(args []string) int

func childArgs() ([]string, bool) {
	v, ok := os.LookupEnv("PILOTLIGHT_CHILD_ARGS")
	if !ok || runChild == nil {
		return nil, false
	}
	return strings.Split(v, "\x1f"), true
}

// SetChildMain lets the external test package install the CLI entry point.
func SetChildMain(f func([]string) int) { runChild = f }
