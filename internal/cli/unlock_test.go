package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// holdLockEnv makes the test binary a stand-in for a running failover: it
// takes the stack's lock, says so, and holds it until its stdin closes.
const holdLockEnv = "PILOTLIGHT_TEST_HOLD_LOCK"

func holdLock(cfgPath string) int {
	cfg, err := spec.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store, err := state.Open(context.Background(), cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := store.Lock(context.Background(), cfg.Stack, "failover"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store.Close()
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// M6: unlock freed the lock of a live process on this host, and a second
// failover then resumed the same journal beside the first.
func TestUnlockRefusesALiveHolder(t *testing.T) {
	cfgPath, _, store := lockFixture(t)
	store.Close()
	child := exec.Command(os.Args[0], "-test.run", "^$")
	child.Env = append(os.Environ(), holdLockEnv+"="+cfgPath)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = child.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("child did not take the lock: %q %v", line, err)
	}
	store2, err := state.Open(context.Background(), mustLoad(t, cfgPath), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := store2.Holder(context.Background(), "wordpress")
	store2.Close()
	if err != nil || h == nil || h.PID != child.Process.Pid {
		t.Fatalf("holder %+v %v, want pid %d", h, err, child.Process.Pid)
	}
	code, _, errOut := run(t, "unlock", "--config", cfgPath, h.ID)
	if code != ExitLockHeld || !strings.Contains(errOut, "still running") || !strings.Contains(errOut, "--force") {
		t.Fatalf("unlock of a live holder: exit %d %s", code, errOut)
	}
	code, out, errOut := run(t, "unlock", "--config", cfgPath, h.ID, "--force")
	if code != 0 || !strings.Contains(out, "released lock "+h.ID) || !strings.Contains(errOut, "may still run") {
		t.Fatalf("unlock --force: exit %d %s %s", code, out, errOut)
	}
}

func mustLoad(t *testing.T, p string) *spec.Config {
	t.Helper()
	c, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
