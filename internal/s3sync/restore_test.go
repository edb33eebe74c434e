package s3sync

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// glacierClock simulates AWS's time for restores. moto restores an
// archived object at once (its key-restore state is RESTORED on the first
// read after RestoreObject); AWS takes minutes to 48 hours by tier. Until
// the test calls finish, a restore it saw requested is running, as on AWS:
// HEAD says ongoing-request="true", a second request is refused with
// RestoreAlreadyInProgress, and a copy is refused with
// ObjectNotInActiveTierError (AWS's and moto's code for a COPY).
type glacierClock struct {
	mu       sync.Mutex
	running  map[string]bool
	requests []*s3.RestoreObjectInput
}

func (c *glacierClock) isRunning(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running[key]
}

// finish ends every running restore: moto's own state (restored) shows.
func (c *glacierClock) finish() { c.mu.Lock(); c.running = map[string]bool{}; c.mu.Unlock() }

type restoringSource struct {
	objectAPI
	api *s3.Client
	clk *glacierClock
}

func (s *restoringSource) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	out, err := s.objectAPI.HeadObject(ctx, in, o...)
	if err == nil && s.clk.isRunning(aws.ToString(in.Key)) {
		out.Restore = aws.String(`ongoing-request="true"`)
	}
	return out, err
}

func (s *restoringSource) RestoreObject(ctx context.Context, in *s3.RestoreObjectInput, o ...func(*s3.Options)) (*s3.RestoreObjectOutput, error) {
	key := aws.ToString(in.Key)
	if s.clk.isRunning(key) {
		return nil, &smithy.GenericAPIError{Code: "RestoreAlreadyInProgress", Message: "Object restore is already in progress"}
	}
	out, err := s.api.RestoreObject(ctx, in, o...)
	if err == nil {
		s.clk.mu.Lock()
		s.clk.running[key] = true
		s.clk.requests = append(s.clk.requests, in)
		s.clk.mu.Unlock()
	}
	return out, err
}

type restoringReplica struct {
	objectAPI
	clk *glacierClock
}

func (d *restoringReplica) CopyObject(ctx context.Context, in *s3.CopyObjectInput, o ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	_, escaped, _ := strings.Cut(aws.ToString(in.CopySource), "/")
	if key, err := url.PathUnescape(escaped); err == nil && d.clk.isRunning(key) {
		return nil, &smithy.GenericAPIError{Code: "ObjectNotInActiveTierError", Message: "The source object of the COPY action is not in the active tier and is only stored in Amazon S3 Glacier."}
	}
	return d.objectAPI.CopyObject(ctx, in, o...)
}

// With Restore, archived objects are restored instead of only reported: the
// first sync requests their restores (Bulk by default) and copies the rest,
// the next one finds them running and requests nothing, and once S3 has
// restored them a sync copies them; none of these runs fails.
func TestSyncRestoresArchivedObjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	f.put("2019/old.jpg", []byte("cold"), func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassGlacier })
	f.put("2018/older.jpg", []byte("colder"), func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassDeepArchive })
	f.put("2026/new.jpg", []byte("warm"))
	clk := &glacierClock{running: map[string]bool{}}
	src := &restoringSource{objectAPI: f.src, api: f.src, clk: clk}
	dst := &restoringReplica{objectAPI: f.dst, clk: clk}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sync := func(opts SyncOptions) *SyncResult {
		t.Helper()
		opts.Workers = 4
		res, err := runSync(f.ctx, src, dst, p, opts)
		if err != nil || res.Failed != 0 {
			t.Fatalf("sync: %+v %v", res, err)
		}
		return res
	}

	// Without Restore nothing is asked of S3: reported, as before.
	if res := sync(SyncOptions{}); res.Archived != 2 || res.Restore != nil || len(clk.requests) != 0 {
		t.Fatalf("sync without restore: %+v, %d restores", res, len(clk.requests))
	}
	if res := sync(SyncOptions{Restore: &RestoreOptions{}, DryRun: true}); res.Archived != 2 || len(clk.requests) != 0 {
		t.Fatalf("a dry run asked for restores: %+v, %d", res, len(clk.requests))
	}
	// Expedited where S3 offers it; Deep Archive has no Expedited tier.
	res := sync(SyncOptions{Restore: &RestoreOptions{Tier: TierExpedited}})
	if r := res.Restore; r == nil || r.Requested != 2 || r.InProgress != 0 || r.Copied != 0 || r.Days != 7 || res.Archived != 2 || res.Copied != 0 {
		t.Fatalf("first sync with restore: %+v %+v", res, res.Restore)
	}
	for _, in := range clk.requests {
		want := map[string]types.Tier{"2019/old.jpg": types.TierExpedited, "2018/older.jpg": types.TierStandard}[aws.ToString(in.Key)]
		if in.RestoreRequest.GlacierJobParameters.Tier != want || aws.ToInt32(in.RestoreRequest.Days) != 7 {
			t.Fatalf("restore request of %s: %+v, want tier %s", aws.ToString(in.Key), in.RestoreRequest.GlacierJobParameters, want)
		}
	}
	res = sync(SyncOptions{Restore: &RestoreOptions{Tier: TierStandard}})
	if r := res.Restore; r.Requested != 0 || r.InProgress != 2 || r.Copied != 0 || res.Archived != 2 || len(clk.requests) != 2 {
		t.Fatalf("sync while restoring: %+v %+v", res, r)
	}

	clk.finish()
	res = sync(SyncOptions{Restore: &RestoreOptions{}})
	if r := res.Restore; r.Requested != 0 || r.InProgress != 0 || r.Copied != 2 || res.Copied != 2 || res.Archived != 0 {
		t.Fatalf("sync after the restores: %+v %+v", res, r)
	}
	if got := string(f.get(f.dst, f.b.Replica, "2018/older.jpg")); got != "colder" {
		t.Fatalf("restored copy: %q", got)
	}
	res = sync(SyncOptions{Restore: &RestoreOptions{}})
	if r := res.Restore; r.Requested != 0 || r.Copied != 0 || res.Skipped != 3 || len(clk.requests) != 2 {
		t.Fatalf("sync after everything was copied: %+v %+v", res, r)
	}
}

func TestRestoreOptions(t *testing.T) {
	for _, tc := range []struct {
		in RestoreOptions
		ok bool
	}{{RestoreOptions{Days: 3}, true}, {RestoreOptions{Days: 1, Tier: "Expedited"}, true}, {RestoreOptions{Days: -1}, false}, {RestoreOptions{Tier: "Fast"}, false}} {
		if err := tc.in.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.in, err)
		}
	}
	def := RestoreOptions{}
	if err := def.Validate(); err != nil || def.Tier != TierBulk || def.Days != DefaultRestoreDays {
		t.Errorf("defaults: %+v %v", def, err)
	}
	for h, want := range map[string]int{"": restoreNone, `ongoing-request="true"`: restoreRunning,
		`ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`: restoreDone} {
		if got := restoreState(h); got != want {
			t.Errorf("restoreState(%q) = %d, want %d", h, got, want)
		}
	}
}
