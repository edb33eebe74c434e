package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMinute is how long one AWS minute lasts on the clock unless told
// otherwise: a 20-minute restore takes 10 s.
const DefaultMinute = 500 * time.Millisecond

// ClockOptions configure AWS's clock on a proxy.
type ClockOptions struct {
	// Minute is the real time one AWS minute lasts; 0 means DefaultMinute.
	Minute time.Duration
	// Durations replaces the table; nil means DefaultDurations().
	Durations *Durations
}

// Clock gives the test world AWS's time. moto finishes every asynchronous
// resource in the answer to its create call; the clock remembers when each
// was asked for, through the proxy, and until its duration has passed
// rewrites moto's describe answers to the state AWS would show (or refuses,
// as AWS does, what is not yet usable). It never changes moto's store: once
// the time has passed, moto's own answer shows through unchanged.
type Clock struct {
	mu      sync.Mutex
	minute  time.Duration
	d       Durations
	origin  time.Time
	skipped time.Duration

	jobs      map[jobKey]job
	profiles  map[string]time.Duration // instance profile name → when last changed (AWS time)
	templates map[string]string        // launch template name or id → instance profile name
	groups    map[string]time.Duration // target group ARN → when its targets were registered
	checks    map[string]tgCheck       // target group ARN → health check settings
	gone      map[jobKey][]byte        // what moto dropped at once and AWS still shows (deleting)
	natUses   map[string][2]string     // NAT gateway id → its subnet and allocation id
}

type jobKey struct{ region, kind, id string }

type job struct {
	start, total time.Duration
	invisible    time.Duration // describe does not know it for this long (EC2 eventual consistency)
}

type tgCheck struct {
	interval  time.Duration
	threshold int
}

// EnableClock turns AWS's clock on for every later request through p.
// Resources created before stay as moto made them.
func (p *Proxy) EnableClock(o ClockOptions) *Clock {
	k := &Clock{minute: o.Minute, d: DefaultDurations(), origin: time.Now(),
		jobs: map[jobKey]job{}, profiles: map[string]time.Duration{}, templates: map[string]string{},
		groups: map[string]time.Duration{}, checks: map[string]tgCheck{},
		gone: map[jobKey][]byte{}, natUses: map[string][2]string{}}
	if k.minute <= 0 {
		k.minute = DefaultMinute
	}
	if o.Durations != nil {
		k.d = *o.Durations
	}
	p.mu.Lock()
	p.clock = k
	p.mu.Unlock()
	return k
}

// Clock returns the proxy's clock, or nil when it is off.
func (p *Proxy) Clock() *Clock { p.mu.Lock(); defer p.mu.Unlock(); return p.clock }

// Now is the AWS time elapsed since the clock started.
func (k *Clock) Now() time.Duration { k.mu.Lock(); defer k.mu.Unlock(); return k.now() }

func (k *Clock) now() time.Duration {
	real := time.Since(k.origin)
	return time.Duration(float64(real)*float64(time.Minute)/float64(k.minute)) + k.skipped
}

// Advance moves AWS time forward by d at once, as if that long had passed:
// tests use it to reach a state without waiting for it.
func (k *Clock) Advance(d time.Duration) { k.mu.Lock(); k.skipped += d; k.mu.Unlock() }

// Real converts an AWS duration into the real time it lasts on this clock.
func (k *Clock) Real(aws time.Duration) time.Duration {
	return time.Duration(float64(aws) * float64(k.minute) / float64(time.Minute))
}

// AWS converts a real duration into the AWS time it stands for.
func (k *Clock) AWS(real time.Duration) time.Duration {
	return time.Duration(float64(real) * float64(time.Minute) / float64(k.minute))
}

// Durations returns the table in use.
func (k *Clock) Durations() Durations { return k.d }

func (k *Clock) start(region, kind, id string, total, invisible time.Duration) {
	if id == "" {
		return
	}
	k.mu.Lock()
	k.jobs[jobKey{region, kind, id}] = job{start: k.now(), total: total, invisible: invisible}
	k.mu.Unlock()
}

// progress says how far along the resource is (0..1) and whether it is
// still in progress; a resource the clock did not see being made is done.
func (k *Clock) progress(region, kind, id string) (float64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	j, ok := k.jobs[jobKey{region, kind, id}]
	if !ok {
		return 1, false
	}
	el := k.now() - j.start
	if el >= j.total || j.total <= 0 {
		return 1, false
	}
	return float64(el) / float64(j.total), true
}

func (k *Clock) invisible(region, kind, id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	j, ok := k.jobs[jobKey{region, kind, id}]
	return ok && k.now()-j.start < j.invisible
}

// Remaining is the AWS time until the resource is done (0 if it is, or if
// the clock never saw it made).
func (k *Clock) Remaining(region, kind, id string) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	j, ok := k.jobs[jobKey{region, kind, id}]
	if !ok {
		return 0
	}
	return max(0, j.total-(k.now()-j.start))
}

// hook is the clock's part in one action: before may answer in moto's
// place (a refusal AWS would give), after rewrites moto's answer.
type hook struct {
	before func(k *Clock, c Call, form url.Values) *answer
	after  func(k *Clock, c Call, form url.Values, body []byte) []byte
	// failed may turn moto's error into what AWS would still answer (a
	// resource moto dropped at once that AWS is still deleting).
	failed func(k *Clock, c Call, form url.Values, status int, body []byte) (int, []byte)
}

var hooks = map[string]hook{}

// Deletions wrap the describe hooks of creations, so they register last.
func init() {
	registerRDS()
	registerEC2()
	registerDeletes()
}

func on(service, action string, h hook) { hooks[service+"/"+action] = h }

type answer struct {
	status int
	code   string
	msg    string
	body   []byte // a whole XML body instead of an error
}

func (k *Clock) handles(c Call) bool { _, ok := hooks[c.Service+"/"+c.Action]; return ok }

// serve forwards r to next, letting the clock answer first or rewrite the
// answer. It returns the status the client got and the fault to record.
func (k *Clock) serve(next http.Handler, w http.ResponseWriter, r *http.Request, c Call, body []byte) (int, string) {
	h := hooks[c.Service+"/"+c.Action]
	form := formOf(r, body)
	if h.before != nil {
		if a := h.before(k, c, form); a != nil {
			if a.body != nil {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(a.status)
				_, _ = w.Write(a.body)
				return a.status, "clock"
			}
			writeAWSError(w, c.Service, a.status, a.code, a.msg)
			return a.status, "clock"
		}
	}
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(buf, r)
	out := buf.body.Bytes()
	status := buf.status
	switch {
	case h.after != nil && status < 300:
		out = h.after(k, c, form, out)
	case h.failed != nil && status >= 300:
		status, out = h.failed(k, c, form, status, out)
	}
	for name, v := range buf.header {
		if name != "Content-Length" {
			w.Header()[name] = v
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return status, ""
}

func formOf(r *http.Request, body []byte) url.Values {
	v := r.URL.Query()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if b, err := url.ParseQuery(string(body)); err == nil {
			for name, vals := range b {
				v[name] = vals
			}
		}
	}
	return v
}

// listed returns the values of a query-protocol list (Name.1, Name.2, ...
// or Name.member.1, ...).
func listed(form url.Values, prefix string) []string {
	var out []string
	for name, v := range form {
		if strings.HasPrefix(name, prefix+".") && len(v) > 0 {
			out = append(out, v[0])
		}
	}
	return out
}

type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.status = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// The describe answers rewritten here are all XML (query and EC2
// protocols). A few byte-level helpers suffice: moto's templates are
// regular, and a full decode and re-encode would lose what the clock does
// not know about.

// spans returns the [start,end) of each outermost <name>…</name> element.
func spans(body []byte, name string) [][2]int {
	open, close := []byte("<"+name), []byte("</"+name+">")
	var out [][2]int
	depth, start := 0, 0
	for i := 0; i < len(body); {
		o := indexFrom(body, open, i)
		for o >= 0 && o+len(open) < len(body) && !isTagEnd(body[o+len(open)]) {
			o = indexFrom(body, open, o+1)
		}
		c := indexFrom(body, close, i)
		switch {
		case o >= 0 && (c < 0 || o < c):
			end := bytes.IndexByte(body[o:], '>')
			if end > 0 && body[o+end-1] == '/' { // <name/>: empty, no depth
				i = o + end + 1
				continue
			}
			if depth == 0 {
				start = o
			}
			depth++
			i = o + len(open)
		case c >= 0:
			if depth > 0 {
				depth--
				if depth == 0 {
					out = append(out, [2]int{start, c + len(close)})
				}
			}
			i = c + len(close)
		default:
			return out
		}
	}
	return out
}

func isTagEnd(b byte) bool { return b == '>' || b == ' ' || b == '/' }

func indexFrom(b, sep []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	i := bytes.Index(b[from:], sep)
	if i < 0 {
		return -1
	}
	return from + i
}

// rewrite replaces every outermost <name> element with fn's result (nil
// drops it).
func rewrite(body []byte, name string, fn func(el []byte) []byte) []byte {
	var out bytes.Buffer
	last := 0
	for _, s := range spans(body, name) {
		out.Write(body[last:s[0]])
		out.Write(fn(body[s[0]:s[1]]))
		last = s[1]
	}
	out.Write(body[last:])
	return out.Bytes()
}

// rewriteIn applies rewrite to the contents of each <container> element.
func rewriteIn(body []byte, container, name string, fn func(el []byte) []byte) []byte {
	return rewrite(body, container, func(el []byte) []byte {
		open := bytes.IndexByte(el, '>') + 1
		closeAt := bytes.LastIndex(el, []byte("</"))
		if open <= 0 || closeAt < open {
			return el
		}
		inner := rewrite(el[open:closeAt], name, fn)
		return append(append(append([]byte{}, el[:open]...), inner...), el[closeAt:]...)
	})
}

// children returns the [start,end) of each direct child <name> of the
// element el (its nested namesakes, such as a security group's Status
// inside a cluster, are left alone).
func children(el []byte, name string) [][2]int {
	var out [][2]int
	depth, start := 0, -1
	for i := 0; i < len(el); {
		lt := indexFrom(el, []byte("<"), i)
		if lt < 0 {
			break
		}
		gt := indexFrom(el, []byte(">"), lt)
		if gt < 0 {
			break
		}
		tag := el[lt+1 : gt]
		i = gt + 1
		switch {
		case len(tag) > 0 && (tag[0] == '?' || tag[0] == '!'):
		case len(tag) > 0 && tag[0] == '/':
			depth--
			if depth == 1 && start >= 0 {
				out = append(out, [2]int{start, gt + 1})
				start = -1
			}
		case bytes.HasSuffix(tag, []byte("/")):
			if depth == 1 && tagName(tag) == name {
				out = append(out, [2]int{lt, gt + 1})
			}
		default:
			if depth == 1 && tagName(tag) == name {
				start = lt
			}
			depth++
		}
	}
	return out
}

func tagName(tag []byte) string {
	if i := bytes.IndexAny(tag, " /\t\n"); i >= 0 {
		tag = tag[:i]
	}
	return string(tag)
}

// field is the text of el's direct child <name>text</name>.
func field(el []byte, name string) string {
	s := children(el, name)
	if len(s) == 0 {
		return ""
	}
	v := el[s[0][0]:s[0][1]]
	open := bytes.IndexByte(v, '>') + 1
	if open >= len(v)-len(name)-3 {
		return ""
	}
	return strings.TrimSpace(string(v[open : len(v)-len(name)-3]))
}

// setField replaces the text of el's direct child <name> by value, adding
// the child where moto leaves it out (PercentProgress, for one).
func setField(el []byte, name, value string) []byte {
	s := children(el, name)
	if len(s) == 0 {
		end := bytes.LastIndex(el, []byte("</"))
		if end < 0 {
			return el
		}
		return []byte(string(el[:end]) + fmt.Sprintf("<%s>%s</%s>", name, value, name) + string(el[end:]))
	}
	return []byte(string(el[:s[0][0]]) + fmt.Sprintf("<%s>%s</%s>", name, value, name) + string(el[s[0][1]:]))
}

// drop removes el's direct children <name>.
func drop(el []byte, name string) []byte {
	s := children(el, name)
	for i := len(s) - 1; i >= 0; i-- {
		el = append(append([]byte{}, el[:s[i][0]]...), el[s[i][1]:]...)
	}
	return el
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// first is the first outermost <name> element of body (nil if none).
func first(body []byte, name string) []byte {
	s := spans(body, name)
	if len(s) == 0 {
		return nil
	}
	return body[s[0][0]:s[0][1]]
}
