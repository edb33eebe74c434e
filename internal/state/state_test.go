package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	bolt "go.etcd.io/bbolt"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	primary = "cn-northwest-1"
	dr      = "cn-north-1"
)

// backend opens two independent stores on the same state, as two
// processes would.
type backend struct {
	name string
	open func(t *testing.T) (a, b Store)
}

func backends() []backend {
	return []backend{
		{"local", func(t *testing.T) (Store, Store) {
			dir := filepath.Join(t.TempDir(), ".pilotlight")
			return mustOpenDir(t, dir), mustOpenDir(t, dir)
		}},
		{"s3+dynamodb", func(t *testing.T) (Store, Store) {
			acct := testenv.Shared(t).NewAccount(t)
			env := testenv.AWS(t, acct.URL)
			bucket := "team-state-" + acct.ID
			makeBucket(t, env, bucket, dr)
			makeTable(t, env, "pilotlight-locks", dr)
			cfg := &spec.Config{Stack: "wordpress", Primary: spec.Region{Region: primary}, DR: spec.Region{Region: dr},
				State: spec.State{Path: "s3://" + bucket + "/dr/wordpress", LockTable: "pilotlight-locks"}}
			open := func() Store {
				s, err := Open(context.Background(), cfg, env)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open()
		}},
	}
}

func mustOpenDir(t testing.TB, dir string) Store {
	t.Helper()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// makeBucket creates a bucket; names are global on the moto server, as in
// AWS, so tests put the account id in them.
func makeBucket(t *testing.T, env *awsenv.Env, name, region string) {
	t.Helper()
	c := s3.NewFromConfig(env.For(region), func(o *s3.Options) { o.UsePathStyle = true })
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                    aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func makeTable(t *testing.T, env *awsenv.Env, name, region string) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(env.For(region)).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("LockID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("LockID"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoreSuite is the one suite both backends must pass.
func TestStoreSuite(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			a, b := be.open(t)
			ctx := context.Background()

			t.Run("blobs", func(t *testing.T) {
				if _, err := a.Get(ctx, "runs/none.json"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("missing key: %v", err)
				}
				for _, k := range []string{"runs/b.json", "runs/a.json", "runsx/c.json", "reports/a/x.html"} {
					if err := a.Put(ctx, k, []byte("v:"+k)); err != nil {
						t.Fatal(err)
					}
				}
				if err := a.Put(ctx, "runs/a.json", []byte("second")); err != nil {
					t.Fatal(err)
				}
				got, err := b.Get(ctx, "runs/a.json") // the other "process" sees it
				if err != nil || string(got) != "second" {
					t.Fatalf("get: %q %v", got, err)
				}
				keys, err := b.List(ctx, "runs/")
				if err != nil || strings.Join(keys, ",") != "runs/a.json,runs/b.json" {
					t.Fatalf("list: %v %v", keys, err)
				}
				if err := a.Delete(ctx, "runs/a.json"); err != nil {
					t.Fatal(err)
				}
				if err := a.Delete(ctx, "runs/a.json"); err != nil {
					t.Fatalf("deleting an absent key: %v", err)
				}
				if _, err := b.Get(ctx, "runs/a.json"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("after delete: %v", err)
				}
				if keys, _ := a.List(ctx, ""); len(keys) != 3 {
					t.Fatalf("list all: %v", keys)
				}
			})

			t.Run("lock", func(t *testing.T) {
				release, err := a.Lock(ctx, "wordpress", "failover")
				if err != nil {
					t.Fatal(err)
				}
				_, err = b.Lock(ctx, "wordpress", "drill")
				var le *LockedError
				if !errors.As(err, &le) {
					t.Fatalf("second lock: want *LockedError, got %v", err)
				}
				h := le.Holder
				host, _ := os.Hostname()
				if h.Operation != "failover" || h.Host != host || h.PID != os.Getpid() || time.Since(h.Started) > time.Minute || h.ID == "" {
					t.Fatalf("holder %+v", h)
				}
				msg := err.Error()
				for _, want := range []string{"failover", host, strconv.Itoa(os.Getpid()), h.Started.UTC().Format("2006-01-02 15:04:05"), "--force-unlock " + h.ID} {
					if !strings.Contains(msg, want) {
						t.Errorf("lock error lacks %q: %s", want, msg)
					}
				}
				if le.Stale {
					t.Error("our own live process is not a stale holder")
				}
				if got, err := b.Holder(ctx, "wordpress"); err != nil || got == nil || got.ID != h.ID {
					t.Fatalf("holder: %+v %v", got, err)
				}
				// Another stack has its own lock.
				rel2, err := b.Lock(ctx, "other", "prepare")
				if err != nil {
					t.Fatal(err)
				}
				if err := rel2(ctx); err != nil {
					t.Fatal(err)
				}
				if err := release(ctx); err != nil {
					t.Fatal(err)
				}
				if got, _ := a.Holder(ctx, "wordpress"); got != nil {
					t.Fatalf("released but held by %+v", got)
				}
				rel3, err := b.Lock(ctx, "wordpress", "drill")
				if err != nil {
					t.Fatalf("lock after release: %v", err)
				}
				_ = rel3(ctx)
			})

			t.Run("force-unlock", func(t *testing.T) {
				release, err := a.Lock(ctx, "wordpress", "failover")
				if err != nil {
					t.Fatal(err)
				}
				h, _ := b.Holder(ctx, "wordpress")
				err = b.ForceUnlock(ctx, "wordpress", "not-the-id")
				if err == nil || !strings.Contains(err.Error(), h.ID) {
					t.Fatalf("wrong id must be refused naming the holder: %v", err)
				}
				if got, _ := b.Holder(ctx, "wordpress"); got == nil {
					t.Fatal("a refused force-unlock released the lock")
				}
				if err := b.ForceUnlock(ctx, "wordpress", h.ID); err != nil {
					t.Fatal(err)
				}
				rel, err := b.Lock(ctx, "wordpress", "drill")
				if err != nil {
					t.Fatalf("lock after force-unlock: %v", err)
				}
				// The first holder's release must not drop the new holder's lock.
				if err := release(ctx); err == nil || !strings.Contains(err.Error(), "force-unlocked") {
					t.Fatalf("stale release: %v", err)
				}
				if got, _ := a.Holder(ctx, "wordpress"); got == nil || got.Operation != "drill" {
					t.Fatalf("holder after stale release: %+v", got)
				}
				if err := rel(ctx); err != nil {
					t.Fatal(err)
				}
				if err := a.ForceUnlock(ctx, "wordpress", h.ID); !errors.Is(err, ErrNotLocked) {
					t.Fatalf("force-unlock with no lock: %v", err)
				}
			})

			t.Run("race", func(t *testing.T) {
				const n = 6
				var wg sync.WaitGroup
				var mu sync.Mutex
				var won, locked int
				var releases []func(context.Context) error
				for i := 0; i < n; i++ {
					s := a
					if i%2 == 1 {
						s = b
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						rel, err := s.Lock(ctx, "race", "failover")
						mu.Lock()
						defer mu.Unlock()
						var le *LockedError
						switch {
						case err == nil:
							won++
							releases = append(releases, rel)
						case errors.As(err, &le):
							locked++
						default:
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if won != 1 || locked != n-1 {
					t.Fatalf("won=%d locked=%d, want 1 and %d", won, locked, n-1)
				}
				for _, r := range releases {
					_ = r(ctx)
				}
			})
		})
	}
}

func TestLocalFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", ".pilotlight")
	s := mustOpenDir(t, dir)
	if err := s.Put(context.Background(), "runs/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("stray files beside the store: %v", entries)
	}
	// A file whose mode was loosened (copied, restored) is tightened.
	os.Chmod(filepath.Join(dir, FileName), 0o644)
	mustOpenDir(t, dir)
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("loosened file not tightened: %v", fi.Mode().Perm())
	}
}

func TestOpenResolvesPathFromConfig(t *testing.T) {
	root := t.TempDir()
	cfg := &spec.Config{Stack: "wordpress", File: filepath.Join(root, "pilotlight.yaml")}
	s, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(root, ".pilotlight", FileName)); err != nil {
		t.Fatalf("default state path not beside the config: %v", err)
	}
	cfg.State.Path = "s3://bucket/prefix"
	if _, err := Open(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "AWS") {
		t.Fatalf("s3 without AWS access: %v", err)
	}
}

// storeWithData makes a state file holding enough keys to span many pages.
func storeWithData(t testing.TB) (dir string, data []byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), ".pilotlight")
	s := mustOpenDir(t, dir)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if err := s.Put(ctx, fmt.Sprintf("runs/run-%03d.json", i), []byte(strings.Repeat(fmt.Sprintf("journal %d ", i), 40))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Lock(ctx, "wordpress", "failover"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// usedSize is the file length the database's meta page claims; bbolt
// grows the file ahead of use, so cutting its tail is not always damage.
func usedSize(t *testing.T, dir string) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return int(n)
}

// useDamaged opens a damaged file and uses it the way pilotlight does; it
// must return errors, never panic or fault.
func useDamaged(dir string) error {
	s, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	keys, err := s.List(ctx, "runs/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := s.Get(ctx, k); err != nil {
			return err
		}
	}
	if _, err := s.Holder(ctx, "wordpress"); err != nil {
		return err
	}
	return s.Put(ctx, "runs/new.json", []byte("{}"))
}

func TestCorruptOrTruncatedFile(t *testing.T) {
	dir, data := storeWithData(t)
	page := 4096
	hwm := usedSize(t, dir)
	cases := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"empty", func(b []byte) []byte { return nil }},
		{"first 100 bytes", func(b []byte) []byte { return b[:100] }},
		{"meta pages only", func(b []byte) []byte { return b[:2*page] }},
		{"half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"last used page missing", func(b []byte) []byte { return b[:hwm-page] }},
		{"both meta pages scribbled", func(b []byte) []byte {
			for _, off := range []int{16, page + 16} {
				copy(b[off:], "garbage garbage garbage garbage garbage")
			}
			return b
		}},
		{"not a database", func(b []byte) []byte { return []byte(strings.Repeat("this is not bbolt\n", 1000)) }},
		{"zeroed pages", func(b []byte) []byte {
			for i := 2 * page; i < len(b); i++ {
				b[i] = 0
			}
			return b
		}},
		{"scribbled pages", func(b []byte) []byte {
			for i := 2 * page; i < len(b); i += 7 {
				b[i] ^= 0xA5
			}
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), ".pilotlight")
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			b := c.damage(append([]byte{}, data...))
			if err := os.WriteFile(filepath.Join(d, FileName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			err := useDamaged(d)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(d, FileName)) || !strings.Contains(err.Error(), "move it aside") {
				t.Fatalf("error does not say which file and what to do: %v", err)
			}
		})
	}
	_ = dir
}

// FuzzDamagedFile flips bytes anywhere in a valid file: whatever happens,
// the store answers with data or an error, never a panic.
func FuzzDamagedFile(f *testing.F) {
	f.Add(uint32(20), byte(0xff), uint16(1))
	f.Add(uint32(4096+40), byte(0x01), uint16(3))
	f.Add(uint32(3*4096+8), byte(0x80), uint16(64))
	f.Add(uint32(5*4096), byte(0x10), uint16(500))
	_, valid := storeWithData(f)
	f.Fuzz(func(t *testing.T, off uint32, xor byte, n uint16) {
		data := append([]byte{}, valid...)
		if xor == 0 {
			xor = 1
		}
		for i := 0; i < int(n); i++ {
			data[(int(off)+i*97)%len(data)] ^= xor
		}
		d := filepath.Join(t.TempDir(), ".pilotlight")
		os.MkdirAll(d, 0o700)
		if err := os.WriteFile(filepath.Join(d, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = useDamaged(d) // must return, not panic
	})
}

func TestRemoteRefusesStateOutsideDR(t *testing.T) {
	for _, dir := range []struct{ primary, dr string }{{"cn-northwest-1", "cn-north-1"}, {"cn-north-1", "cn-northwest-1"}} {
		t.Run(dir.primary+"->"+dir.dr, func(t *testing.T) {
			t.Parallel()
			acct := testenv.Shared(t).NewAccount(t)
			env := testenv.AWS(t, acct.URL)
			inPrimary, inDR := "state-in-primary-"+acct.ID, "state-in-dr-"+acct.ID
			makeBucket(t, env, inPrimary, dir.primary)
			makeBucket(t, env, inDR, dir.dr)
			makeTable(t, env, "locks-in-primary", dir.primary)
			makeTable(t, env, "locks-in-dr", dir.dr)
			ctx := context.Background()
			open := func(path, table string) error {
				cfg := &spec.Config{Stack: "wordpress", Primary: spec.Region{Region: dir.primary}, DR: spec.Region{Region: dir.dr},
					State: spec.State{Path: path, LockTable: table}}
				_, err := Open(ctx, cfg, env)
				return err
			}
			if err := open("s3://"+inDR+"/p", "locks-in-dr"); err != nil {
				t.Fatalf("a correct remote state was refused: %v", err)
			}
			err := open("s3://"+inPrimary+"/p", "locks-in-dr")
			if err == nil || !strings.Contains(err.Error(), "primary region "+dir.primary) || !strings.Contains(err.Error(), "survive") {
				t.Fatalf("bucket in primary: %v", err)
			}
			err = open("s3://"+inDR+"/p", "locks-in-primary")
			if err == nil || !strings.Contains(err.Error(), "primary region "+dir.primary) || !strings.Contains(err.Error(), "survive") {
				t.Fatalf("table in primary: %v", err)
			}
			if err := open("s3://no-such-bucket-"+acct.ID+"/p", "locks-in-dr"); err == nil || !strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("missing bucket: %v", err)
			}
			if err := open("s3://"+inDR+"/p", "no-such-table"); err == nil || !strings.Contains(err.Error(), "LockID") {
				t.Fatalf("missing table: %v", err)
			}
		})
	}
}

// BenchmarkLocal is the embedded store's cost per call: each opens the
// file, and a write syncs it, so a journal write is durable before the
// runner moves on.
//
//	go test ./internal/state -run '^$' -bench Local -benchtime 200x
func BenchmarkLocal(b *testing.B) {
	s := mustOpenDir(b, filepath.Join(b.TempDir(), ".pilotlight"))
	ctx := context.Background()
	journal := []byte(strings.Repeat("x", 4<<10))
	b.Run("put-4KiB", func(b *testing.B) {
		for b.Loop() {
			if err := s.Put(ctx, "runs/bench.json", journal); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-4KiB", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Get(ctx, "runs/bench.json"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lock+release", func(b *testing.B) {
		for b.Loop() {
			rel, err := s.Lock(ctx, "bench", "drill")
			if err != nil {
				b.Fatal(err)
			}
			if err := rel(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
