package emulator

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// Call is one request seen by the proxy.
type Call struct {
	Region  string // the region whose endpoint it was meant for (global services mapped to their home)
	Service string // the SigV4 signing name: rds, ec2, s3, iam, route53, ...
	Action  string // the API operation, e.g. CreateDBSnapshot
	Status  int    // what the client got (0: connection dropped)
	Fault   string // "", "dead", "throttle", "500", "503", "hold"
}

// Match selects requests; empty fields match anything.
type Match struct {
	Region, Service, Action string
}

func (m Match) matches(c Call) bool {
	return (m.Region == "" || m.Region == c.Region) &&
		(m.Service == "" || m.Service == c.Service) &&
		(m.Action == "" || m.Action == c.Action)
}

// Rule injects faults into matching requests. Probabilities are per
// request and drawn from the proxy's seeded source.
type Rule struct {
	Match
	Throttle float64       // answer 400 ThrottlingException
	Fail500  float64       // answer 500 InternalError
	Fail503  float64       // answer 503 ServiceUnavailable
	Latency  time.Duration // added before forwarding
}

// Proxy is a reverse proxy in front of moto that decides each request's
// region from its SigV4 credential scope. With an endpoint override the SDK
// signs IAM and Route 53 for the client's own region, so the proxy maps
// those to their partition's home region itself, as an outage would.
type Proxy struct {
	URL string

	target  *url.URL
	account string
	srv     *http.Server
	rp      *httputil.ReverseProxy

	mu    sync.Mutex
	rnd   *rand.Rand
	rules []Rule
	dead  map[string]bool
	calls []Call
	holds []*Hold
	clock *Clock
	// sourceRegions answers RDS DescribeSourceRegions (moto lacks it):
	// destination region → regions it can copy from.
	sourceRegions map[string][]string
	// backup answers AWS Backup's job API (moto lacks it), with
	// SimulateBackupJobs.
	backup    *backupSim
	started   time.Time
	regionLog []regionEvent // when regions died and came back, for the Route 53 model
}

// NewProxy starts a proxy to target (a moto URL or an Account URL) with a
// seeded random source so fault sequences repeat.
func NewProxy(target string, seed int64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: u, rnd: rand.New(rand.NewSource(seed)), dead: map[string]bool{}, started: time.Now()}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.FlushInterval = -1
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + l.Addr().String()
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Close stops the proxy and releases held requests.
func (p *Proxy) Close() {
	p.mu.Lock()
	for _, h := range p.holds {
		h.Release()
	}
	p.mu.Unlock()
	_ = p.srv.Close()
}

// SetAccount stamps every forwarded request with a moto account id.
func (p *Proxy) SetAccount(id string) { p.mu.Lock(); p.account = id; p.mu.Unlock() }

// AddRule adds a fault rule; rules are checked in order, first match wins.
func (p *Proxy) AddRule(r Rule) { p.mu.Lock(); p.rules = append(p.rules, r); p.mu.Unlock() }

// ClearRules removes every rule and revives every region.
func (p *Proxy) ClearRules() {
	p.mu.Lock()
	p.rules = nil
	for r := range p.dead {
		p.logRegion(r, false)
	}
	p.dead = map[string]bool{}
	p.mu.Unlock()
}

// KillRegion makes every call to region fail as an outage does: the
// connection is dropped. Global services whose home is region die with it.
func (p *Proxy) KillRegion(region string) {
	p.mu.Lock()
	if !p.dead[region] {
		p.logRegion(region, true)
	}
	p.dead[region] = true
	p.mu.Unlock()
}

// ReviveRegion undoes KillRegion.
func (p *Proxy) ReviveRegion(region string) {
	p.mu.Lock()
	if p.dead[region] {
		p.logRegion(region, false)
	}
	delete(p.dead, region)
	p.mu.Unlock()
}

// Calls returns a copy of every request seen so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// ResetCalls forgets the recorded calls.
func (p *Proxy) ResetCalls() { p.mu.Lock(); p.calls = nil; p.mu.Unlock() }

// CallsTo returns the recorded calls that match m.
func (p *Proxy) CallsTo(m Match) []Call {
	var out []Call
	for _, c := range p.Calls() {
		if m.matches(c) {
			out = append(out, c)
		}
	}
	return out
}

// Hold is a trap for the first request matching its Match: the request
// waits (the client sees a slow call) until Release or the client gives up.
type Hold struct {
	match    Match
	skip     int // matching requests to let through before the trap
	reached  chan struct{}
	released chan struct{}
	once     sync.Once
	relOnce  sync.Once
	taken    bool
}

// Reached is closed when a request has been caught.
func (h *Hold) Reached() <-chan struct{} { return h.reached }

// Release lets the caught request (and later ones) through.
func (h *Hold) Release() { h.relOnce.Do(func() { close(h.released) }) }

// HoldFirst traps the next request matching m.
func (p *Proxy) HoldFirst(m Match) *Hold { return p.HoldNth(m, 1) }

// HoldNth lets n-1 requests matching m through and traps the n-th.
func (p *Proxy) HoldNth(m Match, n int) *Hold {
	h := &Hold{match: m, skip: n - 1, reached: make(chan struct{}), released: make(chan struct{})}
	p.mu.Lock()
	p.holds = append(p.holds, h)
	p.mu.Unlock()
	return h
}

var credRe = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// Identify returns region, service and action of a signed AWS request,
// restoring its body for forwarding.
func Identify(r *http.Request) (region, service, action string, body []byte) {
	scope := r.Header.Get("Authorization")
	if scope == "" {
		scope = "Credential=" + r.URL.Query().Get("X-Amz-Credential")
	}
	if m := credRe.FindStringSubmatch(scope); m != nil {
		region, service = m[1], m[2]
	}
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	service = strings.ToLower(service)
	switch service {
	case "iam", "route53":
		region = partition.HomeOf(service, region)
	}
	action = actionOf(r, service, body)
	return region, service, action, body
}

func actionOf(r *http.Request, service string, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndex(t, ".")+1:]
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return v.Get("Action")
		}
	}
	if i := strings.Index(r.URL.Path, "/operation/"); i >= 0 {
		return r.URL.Path[i+len("/operation/"):]
	}
	switch service {
	case "s3":
		return s3Action(r)
	case "route53":
		return route53Action(r)
	}
	return r.Method + " " + r.URL.Path
}

func s3Action(r *http.Request) string {
	q := r.URL.Query()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	hasKey := len(parts) == 2 && parts[1] != ""
	sub := ""
	for _, s := range []string{"versioning", "replication", "tagging", "uploads", "uploadId", "versions", "location", "encryption", "policy"} {
		if q.Has(s) {
			sub = s
			break
		}
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case sub == "versioning":
			return "GetBucketVersioning"
		case sub == "replication":
			return "GetBucketReplication"
		case sub == "tagging" && hasKey:
			return "GetObjectTagging"
		case sub == "versions":
			return "ListObjectVersions"
		case sub == "location":
			return "GetBucketLocation"
		case hasKey:
			return "GetObject"
		case len(parts) == 1 && parts[0] == "":
			return "ListBuckets"
		default:
			return "ListObjectsV2"
		}
	case http.MethodHead:
		if hasKey {
			return "HeadObject"
		}
		return "HeadBucket"
	case http.MethodPut:
		switch {
		case sub == "versioning":
			return "PutBucketVersioning"
		case sub == "replication":
			return "PutBucketReplication"
		case sub == "tagging" && hasKey:
			return "PutObjectTagging"
		case sub == "uploadId" && r.Header.Get("X-Amz-Copy-Source") != "":
			return "UploadPartCopy"
		case sub == "uploadId":
			return "UploadPart"
		case hasKey && r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		case hasKey:
			return "PutObject"
		default:
			return "CreateBucket"
		}
	case http.MethodPost:
		switch {
		case sub == "uploads":
			return "CreateMultipartUpload"
		case sub == "uploadId":
			return "CompleteMultipartUpload"
		case q.Has("delete"):
			return "DeleteObjects"
		}
	case http.MethodDelete:
		switch {
		case sub == "uploadId":
			return "AbortMultipartUpload"
		case sub == "replication":
			return "DeleteBucketReplication"
		case hasKey:
			return "DeleteObject"
		default:
			return "DeleteBucket"
		}
	}
	return r.Method + " " + r.URL.Path
}

func route53Action(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/rrset") && r.Method == http.MethodPost:
		return "ChangeResourceRecordSets"
	case strings.HasSuffix(p, "/rrset"):
		return "ListResourceRecordSets"
	case strings.Contains(p, "/change/"):
		return "GetChange"
	case strings.Contains(p, "/healthcheck") && r.Method == http.MethodPost:
		return "CreateHealthCheck"
	case strings.Contains(p, "/healthcheck") && r.Method == http.MethodDelete:
		return "DeleteHealthCheck"
	case strings.Contains(p, "/healthcheck"):
		return "ListHealthChecks"
	case strings.Contains(p, "/hostedzonesbyname"):
		return "ListHostedZonesByName"
	case strings.HasSuffix(p, "/hostedzone") && r.Method == http.MethodPost:
		return "CreateHostedZone"
	case strings.HasSuffix(p, "/hostedzone"):
		return "ListHostedZones"
	case strings.Contains(p, "/hostedzone/") && r.Method == http.MethodDelete:
		return "DeleteHostedZone"
	case strings.Contains(p, "/hostedzone/"):
		return "GetHostedZone"
	}
	return r.Method + " " + p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, service, action, body := Identify(r)
	var backupOp string
	var backupArgs []string
	if service == "backup" {
		if backupOp, backupArgs = backupRoute(r); backupOp != "" {
			action = backupOp
		}
	}
	c := Call{Region: region, Service: service, Action: action}

	p.mu.Lock()
	dead := p.dead[region]
	var rule *Rule
	for i := range p.rules {
		if p.rules[i].matches(c) {
			rule = &p.rules[i]
			break
		}
	}
	var draw float64
	if rule != nil {
		draw = p.rnd.Float64()
	}
	var hold *Hold
	for _, h := range p.holds {
		if !h.taken && h.match.matches(c) {
			if h.skip > 0 {
				h.skip--
				continue
			}
			h.taken = true
			hold = h
			break
		}
	}
	account := p.account
	clock := p.clock
	sources, answersSources := p.sourceRegions[region]
	answersSources = answersSources || p.sourceRegions != nil
	backup := p.backup
	p.mu.Unlock()

	record := func(status int, fault string) {
		c.Status, c.Fault = status, fault
		p.mu.Lock()
		p.calls = append(p.calls, c)
		p.mu.Unlock()
	}

	if dead {
		record(0, "dead")
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		http.Error(w, "region down", http.StatusServiceUnavailable)
		return
	}
	if hold != nil {
		hold.once.Do(func() { close(hold.reached) })
		select {
		case <-hold.released:
		case <-r.Context().Done():
			record(0, "hold")
			return
		}
	}
	if rule != nil {
		if rule.Latency > 0 {
			select {
			case <-time.After(rule.Latency):
			case <-r.Context().Done():
				record(0, "latency")
				return
			}
		}
		switch {
		case draw < rule.Throttle:
			record(400, "throttle")
			writeAWSError(w, service, 400, "ThrottlingException", "Rate exceeded")
			return
		case draw < rule.Throttle+rule.Fail500:
			record(500, "500")
			writeAWSError(w, service, 500, "InternalError", "injected failure")
			return
		case draw < rule.Throttle+rule.Fail500+rule.Fail503:
			record(503, "503")
			writeAWSError(w, service, 503, "ServiceUnavailable", "injected unavailability")
			return
		}
	}
	if service == "rds" && action == "DescribeSourceRegions" && answersSources {
		writeSourceRegions(w, region, sources, formOf(r, body).Get("RegionName"))
		record(http.StatusOK, "")
		return
	}
	if backup != nil && backupOp != "" {
		record(backup.serve(w, r, region, backupOp, backupArgs, body), "")
		return
	}
	if backup != nil && service == "iam" {
		if status, handled := backup.serveIAM(w, r, region, action, body); handled {
			record(status, "")
			return
		}
	}
	if account != "" {
		r.Header.Set("x-moto-account-id", account)
	}
	if clock != nil && clock.handles(c) {
		record(clock.serve(p.rp, w, r, c, body))
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: 200}
	p.rp.ServeHTTP(sw, r)
	record(sw.status, "")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// writeAWSError answers in the error shape the service's protocol expects,
// so the SDK classifies the code (and retries throttling) as with AWS.
func writeAWSError(w http.ResponseWriter, service string, status int, code, msg string) {
	switch service {
	case "dynamodb", "kms", "ssm", "scheduler", "lambda":
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
	case "s3":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
	case "ec2":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>x</RequestID></Response>`, code, msg)
	default:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>x</RequestId></ErrorResponse>`, code, msg)
	}
}
