// Package state is where pilotlight keeps what must outlive a process:
// run journals, reports, the recovery-point catalogue, and the one lock per
// stack that lets a single mutating operation run at a time. The default is
// one bbolt file under .pilotlight/; teams use s3://bucket/prefix with a
// DynamoDB lock table, both in the DR region, because the state must survive
// the primary region. It knows nothing of what the values mean.
package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// ErrNotFound is returned by Get for a key that is not stored.
var ErrNotFound = errors.New("not found in the state store")

// ErrNotLocked is returned by ForceUnlock when the stack holds no lock.
var ErrNotLocked = errors.New("no lock is held")

// ErrHolderAlive is returned by ForceUnlock when the lock's holder is
// another process still running on this host: removing its lock would let
// a second operation resume the same journal beside it.
var ErrHolderAlive = errors.New("the process holding the lock is still running on this host")

// Store holds keyed blobs and the per-stack operation lock.
//
// The key layout is internal/operation's (RecordKey, ReportKey, VerifyKey,
// ServeLastKey; runbook.Key for journals): operations/<id>.json records,
// runs/<run-id>.json journals, reports/<run-id>/report.{json,html} reports,
// verify/<bucket>.json last verify results, serve/last/<resource>.json
// serve's last run of each resource.
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Lock takes the stack's single mutating-operation lock; a second
	// holder gets *LockedError at once. release gives the lock back and
	// fails if it was force-unlocked in the meantime.
	Lock(ctx context.Context, stack, operation string) (release func(context.Context) error, err error)
	// ForceUnlock removes the lock with id lockID, as `terraform
	// force-unlock` does; a different holder is left alone, and so is a
	// holder whose process still runs on this host (ErrHolderAlive; see
	// Unlock to override).
	ForceUnlock(ctx context.Context, stack, lockID string) error
	// Holder returns the current lock of stack, or nil when none is held.
	Holder(ctx context.Context, stack string) (*LockInfo, error)
	Close() error
}

// LockInfo says who holds a stack's lock.
type LockInfo struct {
	ID        string    `json:"id"`
	Stack     string    `json:"stack"`
	Operation string    `json:"operation"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
}

// LockedError is returned by Lock when another operation holds the lock.
type LockedError struct {
	Holder LockInfo
	// Stale is set when the holder ran on this host and its process is gone:
	// the lock was left by a crash.
	Stale bool
}

func (e *LockedError) Error() string {
	h := e.Holder
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s is locked by %s (lock %s), started %s (%s ago) by pid %d on host %s",
		h.Stack, h.Operation, h.ID, h.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		time.Since(h.Started).Round(time.Second), h.PID, h.Host)
	if e.Stale {
		fmt.Fprintf(&b, "; pid %d is no longer running on this host, so the lock was left by a crash", h.PID)
	}
	fmt.Fprintf(&b, "; once sure that operation is not running, take the lock over with --force-unlock %s (or `pilotlight unlock %s`)", h.ID, h.ID)
	return b.String()
}

// Open picks the backend from cfg.State.Path: a local directory (the bbolt
// file <dir>/state.db, dir 0700, file 0600; relative to the config file) or
// s3://bucket/prefix with the DynamoDB table cfg.State.LockTable. The remote
// bucket and table must be in cfg.DR.Region. env may be nil for the local
// backend.
func Open(ctx context.Context, cfg *spec.Config, env *awsenv.Env) (Store, error) {
	p := cfg.State.Path
	if p == "" {
		p = ".pilotlight"
	}
	if strings.HasPrefix(p, "s3://") {
		if env == nil {
			return nil, fmt.Errorf("state %s: AWS access is needed for an s3:// state path", p)
		}
		bucket, prefix := ParseS3(p)
		table := cfg.State.LockTable
		if table == "" {
			table = "pilotlight-locks"
		}
		return OpenRemote(ctx, env, RemoteOptions{
			Bucket: bucket, Prefix: prefix, LockTable: table,
			Region: cfg.DR.Region, PrimaryRegion: cfg.Primary.Region,
		})
	}
	return OpenDir(cfg.RelPath(p))
}

// ParseS3 splits s3://bucket/prefix; the prefix has no trailing slash.
func ParseS3(p string) (bucket, prefix string) {
	rest := strings.TrimPrefix(p, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/")
}

// UnlockOptions shape Unlock.
type UnlockOptions struct {
	// Force removes the lock even while its holder runs on this host.
	Force bool
}

// Unlock is ForceUnlock with options: with Force, a lock whose holder is
// alive on this host is removed too (the CLI warns first).
func Unlock(ctx context.Context, s Store, stack, lockID string, opts UnlockOptions) error {
	if !opts.Force {
		return s.ForceUnlock(ctx, stack, lockID)
	}
	u, ok := s.(interface {
		unlock(ctx context.Context, stack, lockID string) error
	})
	if !ok {
		return s.ForceUnlock(ctx, stack, lockID)
	}
	if err := u.unlock(ctx, stack, lockID); err != nil {
		return fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	return nil
}

// refuseLive is ForceUnlock's check: the lock lockID of a process that
// still runs on this host is not removed. The caller's own locks are its
// to give back.
func refuseLive(ctx context.Context, s Store, stack, lockID string) error {
	h, err := s.Holder(ctx, stack)
	if err != nil || h == nil || h.ID != lockID || !aliveHere(*h) {
		return err
	}
	return fmt.Errorf("force-unlock %s: stack %s is locked by %s, pid %d on %s, started %s: %w; stop it first, or use --force if you are sure",
		lockID, stack, h.Operation, h.PID, h.Host, h.Started.UTC().Format(time.RFC3339), ErrHolderAlive)
}

// aliveHere reports whether h was taken on this host by another process
// that still runs. Another host's process cannot be checked.
func aliveHere(h LockInfo) bool {
	host, err := os.Hostname()
	if err != nil || host != h.Host || h.PID <= 0 || h.PID == os.Getpid() {
		return false
	}
	p, err := os.FindProcess(h.PID)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	// EPERM: it runs, as another user.
	return err == nil || errors.Is(err, syscall.EPERM)
}

// getpid is the pid recorded in a lock; tests take locks "as" a child.
var getpid = os.Getpid

func newLockInfo(stack, operation string) (LockInfo, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return LockInfo{}, fmt.Errorf("lock id: %w", err)
	}
	// Formatted as a UUID, as Terraform's lock ids are, so users recognise it.
	h := hex.EncodeToString(b[:])
	host, _ := os.Hostname()
	return LockInfo{
		ID:    h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32],
		Stack: stack, Operation: operation, Host: host, PID: getpid(),
		Started: time.Now().UTC().Truncate(time.Second),
	}, nil
}

func lockedError(h LockInfo) *LockedError {
	return &LockedError{Holder: h, Stale: staleHere(h)}
}

// staleHere reports whether h was taken on this host by a process that is
// gone. Another host's process cannot be checked, so it is never stale.
func staleHere(h LockInfo) bool {
	host, err := os.Hostname()
	if err != nil || host != h.Host || h.PID <= 0 {
		return false
	}
	p, err := os.FindProcess(h.PID)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// lockMismatch explains why an unlock of lockID removed nothing.
func lockMismatch(stack, lockID string, cur *LockInfo) error {
	if cur == nil {
		return fmt.Errorf("stack %s: %w", stack, ErrNotLocked)
	}
	return fmt.Errorf("stack %s is locked by %s with a different lock %s (pid %d on %s, started %s), not %s: nothing was unlocked",
		stack, cur.Operation, cur.ID, cur.PID, cur.Host, cur.Started.UTC().Format(time.RFC3339), lockID)
}
