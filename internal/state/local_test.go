package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRefusalsAreNotCorruption: the operating system refusing to open a
// healthy state file (permission denied, out of file descriptors) is
// reported as such, never as a corrupted file to move aside (M7).
func TestRefusalsAreNotCorruption(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".pilotlight")
	s := mustOpenDir(t, dir)
	if err := s.Put(ctx, "runs/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// Tests run as root, where a 0400 file opens all the same: the refusal
	// is made where the store opens the file.
	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EMFILE, syscall.ENFILE, syscall.EROFS} {
		openFile = func(name string, _ int, _ os.FileMode) (*os.File, error) {
			return nil, &os.PathError{Op: "open", Path: name, Err: errno}
		}
		_, err := s.Get(ctx, "runs/x.json")
		openFile = os.OpenFile
		if err == nil || errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "move it aside") || !errors.Is(err, errno) {
			t.Errorf("%v: %v", errno, err)
		}
		if (errno == syscall.EACCES && !strings.Contains(err.Error(), "run as its owner or fix its mode")) ||
			(errno == syscall.EMFILE && !strings.Contains(err.Error(), "file descriptors")) {
			t.Errorf("%v: no hint: %v", errno, err)
		}
	}
	if got, err := s.Get(ctx, "runs/x.json"); err != nil || string(got) != "{}" {
		t.Fatalf("the file was harmed: %q %v", got, err)
	}
}

// TestRealFileDescriptorExhaustion provokes EMFILE for real, with a
// file-descriptor limit just above what the process holds (M7).
func TestRealFileDescriptorExhaustion(t *testing.T) {
	ctx := context.Background()
	s := mustOpenDir(t, filepath.Join(t.TempDir(), ".pilotlight"))
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	// The lowest free descriptor: with the limit there, no open succeeds.
	probe, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	lowest := probe.Fd()
	probe.Close()
	lim := old
	lim.Cur = uint64(lowest)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	_, err = s.Get(ctx, "x")
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Skip("the store opened a file past the limit (a descriptor was free)")
	}
	if errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "too many open files") {
		t.Fatalf("EMFILE reported as: %v", err)
	}
}

// TestLooseStateDirectoryIsFixed: a state directory others may write to is
// tightened (with a warning) before the file in it is trusted (L6).
func TestLooseStateDirectoryIsFixed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".pilotlight")
	mustOpenDir(t, dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	mustOpenDir(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		t.Fatalf("state directory left %04o", fi.Mode().Perm())
	}
}

// TestReadOnlyFileServesReads: a state file the user may read but not
// write opens, and reads work; only a write reports the refusal (M7:
// `runs` on a 0400 file called it corrupted).
func TestReadOnlyFileServesReads(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".pilotlight")
	s := mustOpenDir(t, dir)
	if err := s.Put(ctx, "runs/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// Root ignores a 0400 mode: the refusal of writable opens is made here.
	openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.OpenFile(name, flag, perm)
	}
	defer func() { openFile = os.OpenFile }()
	ro, err := OpenDir(dir)
	if err != nil {
		t.Fatalf("a readable file did not open: %v", err)
	}
	if got, err := ro.Get(ctx, "runs/x.json"); err != nil || string(got) != "{}" {
		t.Fatalf("read: %q %v", got, err)
	}
	if err := ro.Put(ctx, "runs/y.json", []byte("{}")); err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, syscall.EACCES) {
		t.Fatalf("write to a read-only file: %v", err)
	}
}
