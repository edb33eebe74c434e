package s3sync

import (
	"math/rand/v2"
	"testing"
	"time"
)

// link models copies against S3 as pure arithmetic: up to capacity copies
// in flight each take base; beyond it requests queue, so latency grows with
// the excess and throughput stays flat. Above slowDownRate copies/s S3
// throttles the excess.
type link struct {
	base         time.Duration
	capacity     int
	slowDownRate float64
}

func (l link) window(limit int, period time.Duration) window {
	lat := l.base
	if limit > l.capacity {
		lat = time.Duration(float64(l.base) * float64(limit) / float64(l.capacity))
	}
	rate := float64(limit) / lat.Seconds()
	w := window{elapsed: period, busy: true}
	if l.slowDownRate > 0 && rate > l.slowDownRate {
		w.throttled = int((rate - l.slowDownRate) * period.Seconds())
		rate = l.slowDownRate
	}
	w.done = int(rate * period.Seconds())
	w.latency = lat * time.Duration(w.done)
	return w
}

func (l link) rate(limit int) float64 {
	w := l.window(limit, time.Second)
	return float64(w.done)
}

func TestControllerSteps(t *testing.T) {
	sec := time.Second
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		setup func(c *controller)
		w     window
		want  int
	}{
		{"slow start quadruples while throughput grows", func(c *controller) { c.prevRate = 500 }, window{done: 1000, latency: 1000 * 30 * ms, elapsed: sec, busy: true}, 128},
		{"slowdown cuts by 30%", nil, window{done: 1000, throttled: 3, latency: 1000 * 30 * ms, elapsed: sec, busy: true}, 22},
		{"a throttled share that rose as the pool grew cuts again", func(c *controller) { c.throttling, c.cutShare, c.limit = true, 0.1, 100 }, window{done: 800, throttled: 200, latency: 800 * 30 * ms, elapsed: sec, busy: true}, 70},
		{"a steady throttled share sizes on what went through", func(c *controller) {
			c.throttling, c.cutShare, c.limit, c.slowStart, c.floor, c.prevRate = true, 0.2, 80, false, 30*ms, 500
		}, window{done: 800, throttled: 200, latency: 800 * 30 * ms, elapsed: sec, busy: true}, 90},
		{"slowdown never goes below the minimum", func(c *controller) { c.limit = 9 }, window{throttled: 50, elapsed: sec, busy: true}, 8},
		{"rising latency cuts by 10%", func(c *controller) { c.floor = 30 * ms; c.limit = 100 }, window{done: 1000, latency: 1000 * 70 * ms, elapsed: sec, busy: true}, 90},
		{"latency within twice its floor holds", func(c *controller) { c.floor = 30 * ms; c.limit = 100; c.prevRate = 2000; c.slowStart = false }, window{done: 2000, latency: 2000 * 50 * ms, elapsed: sec, busy: true}, 100},
		{"throughput grows but latency does not hold: holds", func(c *controller) { c.floor = 30 * ms; c.limit = 100; c.prevRate = 1000; c.slowStart = false }, window{done: 2000, latency: 2000 * 50 * ms, elapsed: sec, busy: true}, 100},
		{"slow start stops where latency stops holding", func(c *controller) { c.floor = 30 * ms; c.prevRate = 500 }, window{done: 1000, latency: 1000 * 50 * ms, elapsed: sec, busy: true}, 32},
		{"after slow start, growth is an eighth", func(c *controller) { c.limit = 80; c.slowStart = false; c.prevRate = 1000 }, window{done: 2000, latency: 2000 * 30 * ms, elapsed: sec, busy: true}, 90},
		{"a pool the work did not fill holds", func(c *controller) { c.prevRate = 100 }, window{done: 1000, latency: 1000 * 30 * ms, elapsed: sec, busy: false}, 32},
		{"an empty window holds", nil, window{elapsed: sec, busy: true}, 32},
		{"never above the maximum", func(c *controller) { c.limit = 1000; c.prevRate = 1 }, window{done: 1000, latency: 1000 * 30 * ms, elapsed: sec, busy: true}, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
			if tc.setup != nil {
				tc.setup(c)
			}
			if got := c.next(tc.w); got != tc.want {
				t.Fatalf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

// The controller finds the knee of a link: near its capacity, with at
// least 90% of the best throughput, where a fixed 128 is either far too few
// (fast link) or queues for nothing (slow one).
func TestControllerFindsTheKnee(t *testing.T) {
	for _, l := range []link{
		{base: 30 * time.Millisecond, capacity: 600},
		{base: 30 * time.Millisecond, capacity: 40},
		{base: 5 * time.Millisecond, capacity: 1000},
	} {
		c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
		best := l.rate(l.capacity)
		var sum float64
		limit := c.limit
		for i := 0; i < 200; i++ {
			limit = c.next(l.window(limit, time.Second))
			if i >= 100 {
				sum += l.rate(limit)
			}
		}
		if avg := sum / 100; avg < 0.9*best {
			t.Errorf("capacity %d at %s: settled throughput %.0f/s, best %.0f/s (limit now %d)", l.capacity, l.base, avg, best, limit)
		}
		if limit > 3*l.capacity {
			t.Errorf("capacity %d at %s: limit %d queues far past the knee", l.capacity, l.base, limit)
		}
	}
}

// After a SlowDown storm that took the pool to its minimum, the pool is
// back at half its former size within a few windows, not after one window
// per eighth of growth (about 25 from 8 to 64).
func TestControllerRecoversAfterStorm(t *testing.T) {
	ms := time.Millisecond
	c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
	c.limit, c.slowStart, c.floor = 128, false, 30*ms
	// Throttling that each cut reduces, as S3's does.
	throttled := 200.0
	for i := 0; i < 11; i++ {
		c.next(window{done: 500, throttled: int(throttled), latency: 500 * 30 * ms, elapsed: time.Second, busy: true})
		throttled *= 0.6
	}
	if c.limit != DefaultMinWorkers {
		t.Fatalf("after a storm the limit is %d, want the minimum %d", c.limit, DefaultMinWorkers)
	}
	rate := 300.0
	for i := 0; i < 4; i++ {
		rate *= 2
		c.next(window{done: int(rate), latency: time.Duration(rate) * 30 * ms, elapsed: time.Second, busy: true})
	}
	if c.limit < 64 {
		t.Fatalf("4 windows after the storm the limit is %d, want at least 64 (half of 128)", c.limit)
	}
}

// Refusals whose share does not follow the pool (a storm that is not this
// client's doing) cut it once; then the pool is sized on the calls that
// went through, not ratcheted down to its minimum by the window noise.
func TestControllerHoldsWhenCutsDoNotHelp(t *testing.T) {
	ms := time.Millisecond
	c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
	c.limit, c.slowStart, c.floor = 128, false, 30*ms
	// 20% refused, give or take the noise of 1,000 calls a window.
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 30; i++ {
		th := 0
		for j := 0; j < 1000; j++ {
			if rnd.Float64() < 0.2 {
				th++
			}
		}
		c.next(window{done: 1000 - th, throttled: th, latency: time.Duration(1000-th) * 30 * ms, elapsed: time.Second, busy: true})
	}
	if c.limit < 128*7/10 {
		t.Fatalf("after 30 windows with 20%% refused whatever the pool, the limit is %d, want at least %d (one cut)", c.limit, 128*7/10)
	}
}

// Under SlowDown the controller holds the rate near what S3 takes instead
// of pressing on: few windows are throttled once it has settled.
func TestControllerBacksOffOnSlowDown(t *testing.T) {
	l := link{base: 30 * time.Millisecond, capacity: 2000, slowDownRate: 3500}
	c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
	limit := c.limit
	throttled, done := 0, 0
	for i := 0; i < 300; i++ {
		w := l.window(limit, time.Second)
		if i >= 100 {
			throttled += w.throttled
			done += w.done
		}
		limit = c.next(w)
	}
	if frac := float64(throttled) / float64(throttled+done); frac > 0.05 {
		t.Fatalf("%.1f%% of requests throttled after settling (limit %d)", 100*frac, limit)
	}
	if rate := float64(done) / 200; rate < 0.7*l.slowDownRate {
		t.Fatalf("settled at %.0f copies/s, S3 takes %.0f", rate, l.slowDownRate)
	}
}

func TestGateBacksOffPerPrefix(t *testing.T) {
	now := time.Unix(0, 0)
	g := newGate(100*time.Millisecond, time.Second)
	g.now = func() time.Time { return now }
	// Ten refusals of calls in flight together: one wait, not ten doublings.
	for i := 0; i < 10; i++ {
		g.record("wp-content/uploads/2026/01/a.jpg", 0, true, true)
	}
	st := g.prefixes["wp-content/uploads/2026/01/"]
	if st == nil || st.streak != 1 || st.until.Sub(now) > 100*time.Millisecond {
		t.Fatalf("after 10 refusals of one burst the prefix waits %v (streak %d), want one base wait", st.until.Sub(now), st.streak)
	}
	// Ten refusals each after the last wait passed: the wait doubles each time.
	for i := 0; i < 9; i++ {
		now = st.until
		g.record("wp-content/uploads/2026/01/a.jpg", 0, true, true)
	}
	if st.until.Sub(now) < 500*time.Millisecond || st.until.Sub(now) > time.Second {
		t.Fatalf("after 10 throttles in a row the prefix waits %v, want between half the cap and the cap", st.until.Sub(now))
	}
	if _, ok := g.prefixes["wp-content/uploads/2026/02/"]; ok {
		t.Fatal("another prefix was slowed down")
	}
	now = now.Add(2 * time.Second)
	for i := 0; i < 4; i++ {
		g.record("wp-content/uploads/2026/01/b.jpg", 0, false, true)
	}
	if len(g.prefixes) != 0 {
		t.Fatalf("a prefix is still held after its wait and four successes: %+v", g.prefixes["wp-content/uploads/2026/01/"])
	}
}

// When the work, not the pool, bounds throughput (changed keys arriving in
// bursts while the listing runs: the pool fills at each burst, and copies
// per second stay what the listing finds), a probe upwards brings nothing
// and is taken back. Kept, such probes ratcheted the pool up by an eighth
// every few windows for as long as the listing ran, so a sync's memory grew
// with the bucket (bench/s3sync, scale: 144 at 300,000 keys, more at 1M).
func TestControllerTakesBackProbesThatBringNothing(t *testing.T) {
	ms := time.Millisecond
	c := newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
	c.limit, c.slowStart, c.floor, c.prevRate = 128, false, 35*ms, 231
	highest := c.limit
	for i := 0; i < 200; i++ {
		done := 231 + i%3 // a flat rate with a little noise
		highest = max(highest, c.next(window{done: done, latency: time.Duration(done) * 40 * ms, elapsed: time.Second, busy: true}))
	}
	if c.limit != 128 {
		t.Errorf("after 200 windows of flat throughput the limit is %d, want it back at 128", c.limit)
	}
	if highest > 144 {
		t.Errorf("the limit reached %d: probes that brought nothing were kept", highest)
	}
	// A probe that does raise throughput is kept.
	c = newController(DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers)
	c.limit, c.slowStart, c.floor, c.prevRate = 128, false, 30*ms, 4000
	for i := 0; i < flatProbe; i++ {
		c.next(window{done: 4000, latency: 4000 * 30 * ms, elapsed: time.Second, busy: true})
	}
	if c.limit != 144 {
		t.Fatalf("after %d flat windows the limit is %d, want a probe to 144", flatProbe, c.limit)
	}
	c.next(window{done: 4500, latency: 4500 * 30 * ms, elapsed: time.Second, busy: true})
	if c.limit < 144 {
		t.Errorf("a probe that raised throughput by 12%% was taken back (limit %d)", c.limit)
	}
}

// The pool counts as busy only when it was full for most of a window: a
// burst of changed keys that fills it for a moment is the work's shape, not
// a limit that bounds it. Before, one full instant made the window busy and
// an incremental sync's pool grew on every burst.
func TestLimiterBusyOnlyWhenFullMostOfTheWindow(t *testing.T) {
	clock := time.Unix(0, 0)
	l := newLimiter(0)
	l.now = func() time.Time { return clock }
	l.set(4)
	fill := func() {
		for i := 0; i < 4; i++ {
			l.acquire()
		}
	}
	drain := func() {
		for i := 0; i < 4; i++ {
			l.release()
		}
	}
	// A burst: full for 100 ms of a second.
	start := clock
	clock = clock.Add(300 * time.Millisecond)
	fill()
	clock = clock.Add(100 * time.Millisecond)
	drain()
	clock = clock.Add(600 * time.Millisecond)
	if l.takeBusy(clock, clock.Sub(start)) {
		t.Error("a pool full for 100 ms of a second counted as busy")
	}
	// A backlog: full from the start of the window to its end, still full.
	start = clock
	fill()
	clock = clock.Add(time.Second)
	if !l.takeBusy(clock, clock.Sub(start)) {
		t.Error("a pool full for the whole window did not count as busy")
	}
	// The next window carries the fullness on from where the last ended.
	start = clock
	clock = clock.Add(700 * time.Millisecond)
	drain()
	clock = clock.Add(300 * time.Millisecond)
	if !l.takeBusy(clock, clock.Sub(start)) {
		t.Error("a pool full for 700 ms of a second did not count as busy")
	}
	// A lower limit that the copies in flight already reach makes it full.
	start = clock
	l.acquire()
	l.set(1)
	clock = clock.Add(time.Second)
	if !l.takeBusy(clock, clock.Sub(start)) {
		t.Error("a pool cut to what is in flight did not count as full")
	}
}
