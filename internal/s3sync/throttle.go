package s3sync

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// minSDKAttempts is the least number of attempts the sync's S3 clients make
// on a transient error: a sync of millions of keys meets every rare error.
const minSDKAttempts = 10

// Throttle backoff per prefix: S3 throttles (503 SlowDown) per prefix while
// it partitions a new bucket, so a throttled prefix waits and the others go on.
const (
	throttleBase = 100 * time.Millisecond
	throttleMax  = 20 * time.Second
	// throttleTries bounds the copies of one call a storm may refuse; with
	// the backoff capped at throttleMax this is minutes of refusals in a row.
	throttleTries = 30
)

// syncS3 builds the S3 client of a sync or verify. It differs from
// awsenv.S3 in its retryer: the standard retryer's token bucket (500
// tokens, 5 per throttled retry) empties under a sustained SlowDown storm
// from many workers, and from then on every failed attempt fails its call
// at once with "retry quota exceeded" (aws/aws-sdk-go-v2#3413). Without the
// quota each call backs off on its own; the sync's concurrency controller
// is what lowers the load. The base retryer's backoff is kept, so the
// operator's (and a test's) MaxBackoff still applies.
func syncS3(env *awsenv.Env, region string, conns int) *s3.Client {
	base := env.S3(region, conns)
	o := base.Options()
	o.Retryer = noQuotaRetryer(o.Retryer, false)
	return s3.New(o)
}

// noQuotaRetryer is a standard retryer without the retry quota, with at
// least minSDKAttempts attempts and base's backoff. With leaveThrottles it
// does not retry throttling at all: the caller retries those itself, with
// backoff per prefix (see gate).
func noQuotaRetryer(base aws.Retryer, leaveThrottles bool) aws.Retryer {
	attempts := minSDKAttempts
	if base != nil {
		attempts = max(attempts, base.MaxAttempts())
	}
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.RateLimiter = ratelimit.None
		so.MaxAttempts = attempts
		if base != nil {
			so.Backoff = retry.BackoffDelayerFunc(base.RetryDelay)
		}
		if leaveThrottles {
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if throttled(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, so.Retryables...)
		}
	})
}

// leaveThrottlesToCaller is the per-call option of a copy request: the SDK
// retries its transient errors but hands throttling back to the copier.
func leaveThrottlesToCaller(o *s3.Options) {
	o.Retryer = noQuotaRetryer(o.Retryer, true)
}

// throttled reports whether err is S3 asking the client to slow down: the
// SlowDown code, any throttling code, or a bare 503 (S3 answers a request
// rate it cannot take with 503 Slow Down).
func throttled(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := retry.DefaultThrottleErrorCodes[apiCode(err)]; ok {
		return true
	}
	return httpStatus(err) == http.StatusServiceUnavailable
}

// prefixOf is the part of key S3 partitions request rates by, as far as a
// client can tell: everything up to the last '/'.
func prefixOf(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// gate spaces requests to prefixes S3 has throttled. It holds state only for
// prefixes throttled and not yet recovered, so memory does not grow with
// the bucket.
type gate struct {
	base, max time.Duration
	now       func() time.Time
	// observe, when set, hears every call's outcome (the concurrency
	// controller); sample says the latency is a small copy's, comparable
	// between windows.
	observe func(latency time.Duration, throttled, sample bool)

	mu       sync.Mutex
	prefixes map[string]*prefixState
}

type prefixState struct {
	until  time.Time
	streak int
}

func newGate(base, max time.Duration) *gate {
	if base <= 0 {
		base = throttleBase
	}
	if max <= 0 {
		max = throttleMax
	}
	return &gate{base: base, max: max, now: time.Now, prefixes: map[string]*prefixState{}}
}

// wait blocks until key's prefix may be sent to, or ctx ends.
func (g *gate) wait(ctx context.Context, key string) error {
	p := prefixOf(key)
	for {
		g.mu.Lock()
		st := g.prefixes[p]
		var d time.Duration
		if st != nil {
			d = st.until.Sub(g.now())
		}
		g.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// record notes the outcome of a call to key's prefix. A throttle after the
// prefix's wait has passed doubles the wait (half jitter, so that the workers held on it do not return
// together); successes shorten it and, once it has passed, end it.
func (g *gate) record(key string, latency time.Duration, wasThrottled, sample bool) {
	if g.observe != nil {
		g.observe(latency, wasThrottled, sample)
	}
	p := prefixOf(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.prefixes[p]
	if !wasThrottled {
		if st == nil {
			return
		}
		// Each success halves the streak, so that a prefix recovering from a
		// storm gets shorter waits before it is forgotten.
		st.streak /= 2
		if st.streak == 0 && !st.until.After(g.now()) {
			delete(g.prefixes, p)
		}
		return
	}
	if st == nil {
		st = &prefixState{}
		g.prefixes[p] = st
	}
	if st.until.After(g.now()) {
		// Already waiting: this refusal answers a call sent before the
		// wait began (the workers on one prefix are refused together), so
		// it does not lengthen the wait; only a refusal after it does.
		// Counting each would turn one burst into a wait of seconds.
		return
	}
	st.streak++
	d := g.base << min(st.streak-1, 20)
	if d > g.max || d <= 0 {
		d = g.max
	}
	d = d/2 + rand.N(d/2+1)
	if until := g.now().Add(d); until.After(st.until) {
		st.until = until
	}
}

// gated runs f against key's prefix, waiting out the prefix's backoff first
// and retrying while S3 throttles, up to throttleTries times. sample marks
// calls whose latency the concurrency controller should weigh.
func gated[T any](ctx context.Context, g *gate, key string, sample bool, f func() (T, error)) (T, error) {
	var (
		out T
		err error
	)
	for try := 0; try < throttleTries; try++ {
		if werr := g.wait(ctx, key); werr != nil {
			if err == nil {
				err = werr
			}
			return out, err
		}
		start := time.Now()
		out, err = f()
		th := throttled(err)
		g.record(key, time.Since(start), th, sample)
		if !th {
			return out, err
		}
	}
	return out, err
}
