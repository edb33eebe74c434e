package s3sync

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/state"
)

// steppingClock advances by step at every reading: a verify's deadline
// then falls after a known amount of work instead of wall time.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// A verify that runs out of time saves its position in the state store and
// the next one continues there, as Lambda invocations of 15 minutes must
// on a bucket too large to list in one; the passes add up to one full verify.
func TestVerifyResumesFromCheckpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	keys := f.putMany(240)
	// The replica has every key but each tenth, plus two of its own.
	for i, k := range keys {
		if i%10 == 0 {
			continue
		}
		if _, err := f.dst.CopyObject(f.ctx, &s3.CopyObjectInput{
			Bucket: aws.String(f.b.Replica), Key: aws.String(k), CopySource: aws.String(copySource(f.b.Source, k)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"wp-content/uploads/2026/03/zz-extra.jpg", "zz-extra"} {
		if _, err := f.dst.PutObject(f.ctx, &s3.PutObjectInput{Bucket: aws.String(f.b.Replica), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := runVerify(f.ctx, f.src, f.dst, p, false, VerifyOptions{})
	if err != nil || !whole.Complete || whole.MissingCount != 24 || whole.ExtraCount != 2 {
		t.Fatalf("one-pass verify: %+v %v", whole, err)
	}

	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := CheckpointKey(p.src, p.dst)
	var res *VerifyResult
	for pass := 1; ; pass++ {
		if pass > 20 {
			t.Fatal("verify never completed")
		}
		// Each pass has time for about 60 keys (a clock reading per key).
		clock := &steppingClock{t: time.Unix(1_800_000_000, 0), step: time.Millisecond}
		res, err = runVerify(f.ctx, f.src, f.dst, p, false, VerifyOptions{
			Checkpoint: store, Until: clock.t.Add(60 * time.Millisecond), now: clock.now,
		})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if res.Passes != pass {
			t.Fatalf("pass %d reports %d passes", pass, res.Passes)
		}
		if res.Complete {
			break
		}
		if res.Converged || res.ResumeAfter == "" {
			t.Fatalf("incomplete pass %d: %+v", pass, res)
		}
		if _, err := store.Get(f.ctx, key); err != nil {
			t.Fatalf("pass %d saved no checkpoint: %v", pass, err)
		}
	}
	if res.Passes < 3 {
		t.Fatalf("verify of 242 keys finished in %d passes of about 60 keys: the deadline was not honoured", res.Passes)
	}
	got := fmt.Sprint(res.SourceObjects, res.ReplicaObjects, res.MissingCount, res.ExtraCount, res.DifferentCount, res.Missing, res.Extra)
	want := fmt.Sprint(whole.SourceObjects, whole.ReplicaObjects, whole.MissingCount, whole.ExtraCount, whole.DifferentCount, whole.Missing, whole.Extra)
	if got != want {
		t.Fatalf("resumed verify over %d passes:\n got %s\nwant %s", res.Passes, got, want)
	}
	if _, err := store.Get(f.ctx, key); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("checkpoint left after a complete verify: %v", err)
	}
}
