package s3sync

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// slowDownStorm stands in front of moto and answers 503 SlowDown as S3
// does while it partitions a new bucket. moto never throttles, so this is a
// simulation in test code: time is cut into slots of `slot`, and every
// fifth slot refuses every request, which is 20% of requests, in the bursts
// of refusals that drain a shared retry quota (aws/aws-sdk-go-v2#3413).
type slowDownStorm struct {
	slot time.Duration
	rp   *httputil.ReverseProxy

	mu    sync.Mutex
	all   bool // refuse every request, not every fifth slot
	until time.Time
	start time.Time

	refused, passed atomic.Int64
}

func (s *slowDownStorm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	refuse := now.Before(s.until) && (s.all || (now.Sub(s.start)/s.slot)%5 == 0)
	s.mu.Unlock()
	if refuse {
		s.refused.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		return
	}
	s.passed.Add(1)
	s.rp.ServeHTTP(w, r)
}

// startStorm serves a storm in front of target for d, from now.
func startStorm(t *testing.T, target string, d time.Duration) (*slowDownStorm, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &slowDownStorm{slot: 100 * time.Millisecond, rp: httputil.NewSingleHostReverseProxy(u)}
	s.rp.Transport = &http.Transport{MaxIdleConnsPerHost: 512}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.begin(d, false)
	return s, "http://" + l.Addr().String()
}

// begin starts a storm of d; all refuses every request instead of 20%.
func (s *slowDownStorm) begin(d time.Duration, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = time.Now()
	s.until = s.start.Add(d)
	s.all = all
}

// putMany writes n small objects spread over a few media prefixes.
func (f *fixture) putMany(n int) []string {
	f.t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("wp-content/uploads/2026/%02d/img-%05d.jpg", 1+i%6, i)
	}
	var wg sync.WaitGroup
	ch := make(chan string)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				if _, err := f.src.PutObject(f.ctx, &s3.PutObjectInput{
					Bucket: aws.String(f.b.Source), Key: aws.String(k), Body: strings.NewReader("bytes of " + k),
				}); err != nil {
					f.t.Errorf("put %s: %v", k, err)
				}
			}
		}()
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	return keys
}

// Under a SlowDown storm on 20% of requests for the whole copy (30 s on
// AWS) every object is copied and none is reported failed.
func TestSyncSurvivesSlowDownStorm(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	f := newFixtureAt(t, acct.URL, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	const n = 800
	f.putMany(n)

	storm, stormURL := startStorm(t, acct.URL, 0)
	env := testenv.AWS(t, stormURL)

	// Why the retryer matters: in a burst of refusals (the storm's fifth
	// slot, held here until every worker has retried) the SDK's standard
	// retryer, shared by many workers as one client per region is, runs out
	// of retry quota and fails calls at once instead of backing off.
	t.Run("standard retryer fails", func(t *testing.T) {
		std := s3.New(env.S3("us-west-2", 128).Options(), func(o *s3.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10; so.MaxBackoff = 50 * time.Millisecond })
		})
		storm.begin(time.Minute, true)
		defer storm.begin(0, false)
		var quota atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 128; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 128; i += 128 {
					k := fmt.Sprintf("wp-content/uploads/2026/%02d/img-%05d.jpg", 1+i%6, i)
					_, err := std.CopyObject(f.ctx, &s3.CopyObjectInput{
						Bucket: aws.String(f.b.Replica), Key: aws.String("probe/" + k), CopySource: aws.String(copySource(f.b.Source, k)),
					})
					if err != nil && strings.Contains(err.Error(), "retry quota exceeded") {
						quota.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if quota.Load() == 0 {
			t.Fatalf("no call ran out of retry quota in a burst of refusals (%d refused, %d passed)", storm.refused.Load(), storm.passed.Load())
		}
		t.Logf("standard retryer: %d calls failed with retry quota exceeded", quota.Load())
	})

	// The storm lasts the whole copy (30 s on AWS; here the copy is shorter).
	storm.begin(time.Minute, false)
	storm.refused.Store(0)
	res, err := Sync(f.ctx, env, f.cfg, f.b, SyncOptions{
		AdjustEvery: 100 * time.Millisecond, ThrottleBackoff: 20 * time.Millisecond, ThrottleMaxBackoff: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("sync in a SlowDown storm: %v (%+v)", err, res)
	}
	if res.Failed != 0 || res.Copied != n {
		t.Fatalf("sync in a SlowDown storm: copied %d of %d, failed %d: %v", res.Copied, n, res.Failed, res.Errors)
	}
	if storm.refused.Load() == 0 || res.Throttled == 0 {
		t.Fatalf("the storm refused %d requests, the sync saw %d throttled: the storm missed the sync", storm.refused.Load(), res.Throttled)
	}
	t.Logf("storm refused %d requests; sync: %d throttled, workers %d (peak %d), %s", storm.refused.Load(), res.Throttled, res.Workers, res.PeakWorkers, res.Duration)

	// The replica holds every key (the probe copies aside).
	got := 0
	for _, k := range f.keys(f.dst, f.b.Replica) {
		if !strings.HasPrefix(k, "probe/") {
			got++
		}
	}
	if got != n {
		t.Fatalf("replica holds %d of %d keys", got, n)
	}
	// A second run finds nothing to do.
	again, err := Sync(context.Background(), testenv.AWS(t, acct.URL), f.cfg, f.b, SyncOptions{})
	if err != nil || again.Copied != 0 || again.Skipped != n {
		t.Fatalf("re-run after the storm: %+v %v", again, err)
	}
}
