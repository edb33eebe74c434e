package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the embedded store's file inside the state directory.
const FileName = "state.db"

var (
	kvBucket    = []byte("kv")
	locksBucket = []byte("locks")
)

// fileLockWait bounds how long an operation waits for bbolt's file lock.
// Each transaction opens and closes the file, so another pilotlight process
// (a `runs` reader, a running failover writing its journal) holds it only
// for milliseconds; a longer wait means something is wrong.
const fileLockWait = 10 * time.Second

// ErrCorrupt marks a state file that cannot be read safely.
var ErrCorrupt = errors.New("state file is corrupted or truncated")

// localStore is the embedded backend: one bbolt file. bbolt locks the file
// for as long as it is open, so the store opens it per transaction rather
// than for the life of the process: a failover that runs for an hour must
// not keep `pilotlight runs` in another terminal from reading its journal.
type localStore struct {
	path string
	// mu serialises this process's transactions. bbolt's flock is per open
	// file, so two goroutines' opens would otherwise poll each other.
	mu       sync.Mutex
	verified bool
}

// OpenDir opens (creating if needed) the embedded store in dir: dir is
// made 0700 and the file 0600, since journals name resources and hosts.
func OpenDir(dir string) (Store, error) {
	if di, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory %s: %w", dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	} else if looseDir(di.Mode()) && di.Mode()&fs.ModeSticky == 0 {
		fixed := di.Mode().Perm() &^ 0o022
		if err := os.Chmod(dir, fixed); err != nil {
			return nil, fmt.Errorf("state directory %s is writable by other users (mode %04o) and could not be fixed: %w; make it 0700", dir, di.Mode().Perm(), err)
		}
		slog.Warn("state directory was writable by other users: tightened", "dir", dir, "was", fmt.Sprintf("%04o", di.Mode().Perm()), "now", fmt.Sprintf("%04o", fixed))
	}
	s := &localStore{path: filepath.Join(dir, FileName)}
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := s.create(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", s.path, err)
	case fi.Mode().Perm()&0o077 != 0:
		// A copied or restored file may have lost its mode: tighten it.
		if err := os.Chmod(s.path, 0o600); err != nil {
			return nil, fmt.Errorf("state file %s: %w", s.path, err)
		}
	}
	// A file that has its buckets is opened read-only here, so that read
	// verbs (runs, reports, status) work on a file the user may only read.
	ready := false
	if err := s.with(context.Background(), false, func(tx *bolt.Tx) error {
		ready = tx.Bucket(kvBucket) != nil && tx.Bucket(locksBucket) != nil
		return nil
	}); err != nil {
		return nil, err
	}
	if ready {
		return s, nil
	}
	if err := s.with(context.Background(), true, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(kvBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(locksBucket)
		return err
	}); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *localStore) String() string { return s.path }

// create makes a new database beside the final path and links it into
// place, so that no process ever sees a half-initialised file. An empty
// state.db is therefore never normal, and is reported as truncated.
func (s *localStore) create() error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".state-*.db")
	if err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	if err := os.Chmod(tmpName, 0o600); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	db, err := bolt.Open(tmpName, 0o600, &bolt.Options{Timeout: fileLockWait})
	if err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	// Link fails if another process created the file first; theirs is as good.
	if err := os.Link(tmpName, s.path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	return nil
}

// with runs fn in one transaction on a freshly opened file. Corruption
// surfaces from bbolt as a panic or a memory fault on the mapped file; both
// become ErrCorrupt here instead of killing the process.
func (s *localStore) with(ctx context.Context, write bool, fn func(*bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				// Closing our descriptor drops the flock bbolt may still hold.
				file.Close()
			}
			err = s.corrupt(fmt.Errorf("%v", r))
		}
	}()
	opts := &bolt.Options{
		Timeout:  fileLockWait,
		ReadOnly: !write,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			// Never create: the file is made by create alone, and a missing
			// file now means someone removed it under us.
			f, err := openFile(name, flag&^os.O_CREATE, perm)
			if err != nil {
				return nil, err
			}
			if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
				f.Close()
				return nil, fmt.Errorf("the file is empty")
			}
			file = f
			return f, nil
		},
	}
	db, err := bolt.Open(s.path, 0o600, opts)
	if err != nil {
		return s.openError(err)
	}
	defer db.Close()
	if !s.verified {
		if err := s.verify(db); err != nil {
			return err
		}
		s.verified = true
	}
	if write {
		return db.Update(fn)
	}
	return db.View(fn)
}

func (s *localStore) corrupt(why error) error {
	return fmt.Errorf("%w: %s: %v; move it aside (or restore a backup) to start again: the journals and catalogue in it cannot be read", ErrCorrupt, s.path, why)
}

func (s *localStore) openError(err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("state file %s is busy: another process has held it for over %s: %w", s.path, fileLockWait, err)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), strings.Contains(err.Error(), "the file is empty"):
		return s.corrupt(err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state file %s has disappeared: %w", s.path, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("state file %s: %w: the file is intact; run as its owner or fix its mode (0600, owned by the user who runs pilotlight)", s.path, err)
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return fmt.Errorf("state file %s: %w: the file is intact; this process (or the system) has run out of file descriptors: raise the limit (ulimit -n) or close connections", s.path, err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		// Any other refusal of the operating system (read-only file
		// system, out of memory for the map, I/O error) says nothing of
		// the file's content: moving it aside would lose good journals.
		return fmt.Errorf("state file %s: cannot open: %w", s.path, err)
	}
	return s.corrupt(err)
}

// openFile is os.OpenFile; tests replace it to make the refusals that a
// root test process cannot provoke (permission denied).
var openFile = os.OpenFile

// looseDir is a state directory others may write to: they could replace
// the state file (and its journals and lock) under us. A sticky directory
// (/tmp) is shared by design and is left as it is.
func looseDir(mode fs.FileMode) bool { return mode.Perm()&0o022 != 0 }

// verify checks the file once per store: that it is as long as its meta
// page says (a truncated file would fault later), and that every key and
// value is readable. The walk runs here, where faults are caught; bbolt's
// own tx.Check is not used because it reads pages in a goroutine of its
// own, where a fault on a damaged page would kill the process.
func (s *localStore) verify(db *bolt.DB) error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return s.corrupt(fmt.Errorf("truncated: %d bytes, the database needs %d", fi.Size(), tx.Size()))
		}
		var sum byte
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			sum ^= walk(b)
			return nil
		})
		if err != nil {
			return s.corrupt(err)
		}
		_ = sum
		return nil
	})
}

// walk reads every byte of every key and value below b, so that a damaged
// page faults now, inside the guard, rather than in some later call.
func walk(b *bolt.Bucket) byte {
	var sum byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		for _, x := range k {
			sum ^= x
		}
		if v == nil {
			if child := b.Bucket(k); child != nil {
				sum ^= walk(child)
			}
			continue
		}
		for _, x := range v {
			sum ^= x
		}
	}
	return sum
}

func (s *localStore) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.with(ctx, false, func(tx *bolt.Tx) error {
		b := tx.Bucket(kvBucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte{}, v...) // v is only valid inside the transaction
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if out == nil {
		return nil, fmt.Errorf("%s: %s: %w", s.path, key, ErrNotFound)
	}
	return out, nil
}

func (s *localStore) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return errors.New("put: empty key")
	}
	err := s.with(ctx, true, func(tx *bolt.Tx) error {
		return tx.Bucket(kvBucket).Put([]byte(key), data)
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *localStore) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.with(ctx, false, func(tx *bolt.Tx) error {
		b := tx.Bucket(kvBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		p := []byte(prefix)
		for k, _ := c.Seek(p); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
			keys = append(keys, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Strings(keys) // bbolt's byte order is already sorted; keep the promise explicit
	return keys, nil
}

func (s *localStore) Delete(ctx context.Context, key string) error {
	err := s.with(ctx, true, func(tx *bolt.Tx) error {
		return tx.Bucket(kvBucket).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Lock records the holder in the locks bucket. bbolt's write transactions
// are exclusive across processes (the file lock), so the check and the write
// are one atomic step.
func (s *localStore) Lock(ctx context.Context, stack, operation string) (func(context.Context) error, error) {
	info, err := newLockInfo(stack, operation)
	if err != nil {
		return nil, err
	}
	var held *LockInfo
	err = s.with(ctx, true, func(tx *bolt.Tx) error {
		b := tx.Bucket(locksBucket)
		cur, err := s.holder(b, stack)
		if err != nil {
			return err
		}
		if cur != nil {
			held = cur
			return nil
		}
		data, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return b.Put([]byte(stack), data)
	})
	if err != nil {
		return nil, fmt.Errorf("lock stack %s: %w", stack, err)
	}
	if held != nil {
		return nil, lockedError(*held)
	}
	return func(ctx context.Context) error {
		if err := s.unlock(ctx, stack, info.ID); err != nil {
			return fmt.Errorf("release lock %s of stack %s (was it force-unlocked?): %w", info.ID, stack, err)
		}
		return nil
	}, nil
}

func (s *localStore) holder(b *bolt.Bucket, stack string) (*LockInfo, error) {
	v := b.Get([]byte(stack))
	if v == nil {
		return nil, nil
	}
	var h LockInfo
	if err := json.Unmarshal(v, &h); err != nil {
		return nil, s.corrupt(fmt.Errorf("lock record of stack %s: %w", stack, err))
	}
	return &h, nil
}

// unlock removes the lock only if it is still lockID.
func (s *localStore) unlock(ctx context.Context, stack, lockID string) error {
	var mismatch error
	err := s.with(ctx, true, func(tx *bolt.Tx) error {
		b := tx.Bucket(locksBucket)
		cur, err := s.holder(b, stack)
		if err != nil {
			return err
		}
		if cur == nil || cur.ID != lockID {
			mismatch = lockMismatch(stack, lockID, cur)
			return nil
		}
		return b.Delete([]byte(stack))
	})
	if err != nil {
		return err
	}
	return mismatch
}

func (s *localStore) ForceUnlock(ctx context.Context, stack, lockID string) error {
	if err := refuseLive(ctx, s, stack, lockID); err != nil {
		return err
	}
	if err := s.unlock(ctx, stack, lockID); err != nil {
		return fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	return nil
}

func (s *localStore) Holder(ctx context.Context, stack string) (*LockInfo, error) {
	var h *LockInfo
	err := s.with(ctx, false, func(tx *bolt.Tx) error {
		var err error
		h, err = s.holder(tx.Bucket(locksBucket), stack)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lock of stack %s: %w", stack, err)
	}
	return h, nil
}

// Close has nothing to release: the file is open only inside transactions.
func (s *localStore) Close() error { return nil }
