package s3sync

import (
	"sync"
	"time"
)

// DefaultWorkers is the fixed pool of earlier releases, kept for callers
// that still pass it; SyncOptions.Workers 0 adapts instead.
const DefaultWorkers = 128

// Adaptive concurrency bounds. A cross-region copy is mostly waiting, so
// throughput is about copies in flight ÷ latency until S3 (SlowDown), the
// link or this machine says otherwise; the controller looks for that point.
const (
	DefaultMinWorkers   = 8
	DefaultStartWorkers = 32
	DefaultMaxWorkers   = 1024
	// DefaultAdjustEvery is how often the controller looks at a window of
	// finished copies and resizes the pool.
	DefaultAdjustEvery = time.Second
)

// window is what the copies finished in one adjustment period.
type window struct {
	done      int           // calls that got an answer other than throttling
	throttled int           // calls S3 throttled (SlowDown, 503)
	latency   time.Duration // sum over done
	elapsed   time.Duration
	busy      bool // the pool was full for most of the window: the limit, not the work, bounded it
}

// controller is AIMD on copies in flight: it quadruples while throughput
// grows and latency holds (slow start), then grows by an eighth while
// throughput still grows and latency holds; it cuts by 30% on throttling
// (again only while cuts reduce it) and by 10% when latency rises to twice
// its floor. Pure logic: the caller feeds windows.
type controller struct {
	min, max, limit int
	slowStart       bool
	floor           time.Duration // lowest mean latency seen
	prevRate        float64
	flat            int // windows in a row without growth
	// recover is half the limit a run of throttled windows began at: once
	// S3 stops throttling, the limit doubles back up to it (as TCP's slow
	// start does up to its threshold) instead of climbing from the minimum
	// by an eighth a window. throttling: inside such a run.
	recover    int
	throttling bool
	// cutShare is the throttled share of calls in the window of the last cut.
	cutShare float64
	// probedFrom is the limit before the last probe upwards, while the
	// window that judges it is running; 0 otherwise.
	probedFrom int
}

// shareFalls is how far the throttled share must fall below the share of
// the last cut for a throttled window to cut again: S3 throttles the rate
// above what a prefix takes, so cutting the rate by 30% cuts the share by
// far more (to 0.6x or less, whatever the overload). When it does not, the
// refusals do not come from this client's rate (the rest of the account,
// a partition being split) and further cuts only idle the pool; the
// per-prefix backoff (gate) still spaces the refused prefixes. Compared
// with the share at the last cut, not the last window's, so that the
// window-to-window noise of a steady share (about 10% at a few hundred
// calls a window) does not ratchet the pool down.
const shareFalls = 0.7

func newController(lo, start, hi int) *controller {
	lo = max(1, lo)
	hi = max(lo, hi)
	return &controller{min: lo, max: hi, limit: clamp(start, lo, hi), slowStart: true}
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// latencyRise is how far above its floor mean latency may rise before the
// controller takes it for queueing (in S3, the link or this machine).
const latencyRise = 2.0

// latencyHold is how far above its floor mean latency may be for the
// controller to grow: "grows while throughput grows and latency holds".
// Where this machine's CPU (or the link) is the ceiling, more copies in
// flight only queue: throughput still wobbles upwards now and then, but
// latency shows the queue, and growing on the wobble costs connections,
// goroutines and CPU for nothing (measured: bench/s3sync, small set).
const latencyHold = 1.5

// slowStartGrowth multiplies the limit each window of slow start. The
// first window runs few copies so that the latency floor is measured
// before anything queues; from there 32, 128, 512 reaches a machine's or
// a link's knee in two or three windows, where doubling took a second more
// at each step (bench/s3sync, small set: a run of 20,000 copies lost about
// a second to the climb).
const slowStartGrowth = 4

// firstWindow is the share of AdjustEvery the first window lasts: long
// enough for a few hundred copies at DefaultStartWorkers, short enough that
// running few copies while the floor is measured costs little.
const firstWindow = 4

// flatProbe is how many windows without growth pass before the controller
// probes upwards again: the work, not the limit, may have been the bound.
const flatProbe = 4

// next returns the limit for the coming window.
func (c *controller) next(w window) int {
	if w.throttled > 0 {
		share := float64(w.throttled) / float64(w.throttled+w.done)
		// The first throttled window cuts; later ones cut again when the
		// share follows the pool (fell after a cut, or rose as it grew):
		// then the refusals answer this client's rate. A share that stays
		// put does not, and the pool is sized on the calls that went
		// through, as if nothing were refused.
		follows := share < shareFalls*c.cutShare || share > c.cutShare/shareFalls
		if !c.throttling || follows {
			c.probedFrom = 0
			if !c.throttling {
				c.recover = c.limit / 2
			}
			c.throttling = true
			c.slowStart = false
			c.flat = 0
			c.prevRate = 0
			c.limit = clamp(c.limit*7/10, c.min, c.max)
			c.cutShare = share
			return c.limit
		}
	}
	if w.done == 0 || w.elapsed <= 0 {
		return c.limit
	}
	if w.throttled == 0 {
		c.throttling = false
	}
	mean := w.latency / time.Duration(w.done)
	if c.floor == 0 || mean < c.floor {
		c.floor = mean
	}
	rate := float64(w.done) / w.elapsed.Seconds()
	if float64(mean) > latencyRise*float64(c.floor) {
		c.probedFrom = 0
		c.slowStart = false
		c.flat = 0
		c.limit = clamp(c.limit*9/10, c.min, c.max)
		c.prevRate = rate
		return c.limit
	}
	grew := rate > c.prevRate*1.05
	c.prevRate = rate
	if from := c.probedFrom; from > 0 {
		c.probedFrom = 0
		if !grew {
			// The probe brought no throughput: the work or a ceiling bounds
			// it, and the slots it added would only hold memory and
			// connections. Kept, probes ratchet the pool up for as long as
			// a listing runs (TestControllerTakesBackProbesThatBringNothing).
			c.limit = from
			return c.limit
		}
	}
	holds := float64(mean) <= latencyHold*float64(c.floor)
	switch {
	case !w.busy:
		// The work, not the limit, bounded this window: more slots would idle.
	case !holds:
		// Requests queue somewhere: hold, whatever throughput did.
		c.slowStart = false
		c.flat = 0
	case grew && c.slowStart:
		c.limit = clamp(c.limit*slowStartGrowth, c.min, c.max)
	case grew && c.limit < c.recover:
		c.flat = 0
		c.limit = clamp(min(c.limit*2, c.recover), c.min, c.max)
	case grew:
		c.flat = 0
		c.limit = clamp(c.limit+max(1, c.limit/8), c.min, c.max)
	default:
		c.slowStart = false
		if c.flat++; c.flat >= flatProbe {
			c.flat = 0
			c.probedFrom = c.limit
			c.limit = clamp(c.limit+max(1, c.limit/8), c.min, c.max)
		}
	}
	return c.limit
}

// busyShare is the share of a window the pool must have been full for the
// limit, not the work, to count as what bounded it. Changed keys found by a
// listing come in bursts (a folder of changes at a time): the pool fills
// for a moment at each burst and idles between them, and growing it then
// only holds memory and connections for the next burst (bench/s3sync,
// scale: an incremental sync's pool went to 128 and more, and its peak RSS
// grew with the bucket).
const busyShare = 0.5

// limiter bounds copies in flight to a limit that may change at any time.
type limiter struct {
	mu       sync.Mutex
	cond     *sync.Cond
	limit    int
	inFlight int
	peak     int
	// fullSince is when inFlight last reached the limit (zero while below
	// it); fullFor sums the time it stayed there since the last take.
	fullSince time.Time
	fullFor   time.Duration
	now       func() time.Time
	// onRaise, when set, hears every new limit above the old one, before
	// the waiters are woken (the sync starts workers up to it).
	onRaise func(limit int)
}

func newLimiter(limit int) *limiter {
	l := &limiter{limit: limit, now: time.Now}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// mark notes whether the pool is full now; called with mu held after any
// change of inFlight or limit.
func (l *limiter) mark() {
	full := l.limit > 0 && l.inFlight >= l.limit
	switch {
	case full && l.fullSince.IsZero():
		l.fullSince = l.now()
	case !full && !l.fullSince.IsZero():
		l.fullFor += l.now().Sub(l.fullSince)
		l.fullSince = time.Time{}
	}
}

func (l *limiter) acquire() {
	l.mu.Lock()
	for l.inFlight >= l.limit {
		l.cond.Wait()
	}
	l.inFlight++
	l.mark()
	l.peak = max(l.peak, l.inFlight)
	l.mu.Unlock()
}

func (l *limiter) release() {
	l.mu.Lock()
	l.inFlight--
	l.mark()
	l.mu.Unlock()
	l.cond.Signal()
}

func (l *limiter) set(n int) {
	l.mu.Lock()
	grow := n > l.limit
	l.limit = n
	l.mark()
	l.mu.Unlock()
	if grow {
		if l.onRaise != nil {
			l.onRaise(n)
		}
		l.cond.Broadcast()
	}
}

// takeBusy reports whether the pool was full for at least busyShare of the
// window of length elapsed that ends at now, and starts the next window.
func (l *limiter) takeBusy(now time.Time, elapsed time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.fullFor
	if !l.fullSince.IsZero() {
		d += now.Sub(l.fullSince)
		l.fullSince = now
	}
	l.fullFor = 0
	return elapsed > 0 && float64(d) >= busyShare*float64(elapsed)
}

func (l *limiter) stats() (limit, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.peak
}

// sampler gathers call outcomes into the current window.
type sampler struct {
	mu    sync.Mutex
	w     window
	since time.Time
	total int64 // throttled calls over the whole run
}

func (s *sampler) observe(latency time.Duration, throttled, sample bool) {
	s.mu.Lock()
	switch {
	case throttled:
		s.w.throttled++
		s.total++
	case sample:
		s.w.done++
		s.w.latency += latency
	}
	s.mu.Unlock()
}

// take returns the window since the last take and starts a new one.
func (s *sampler) take(now time.Time) window {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.w
	w.elapsed = now.Sub(s.since)
	s.w, s.since = window{}, now
	return w
}

func (s *sampler) throttles() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
