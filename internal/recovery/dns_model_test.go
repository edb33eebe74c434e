package recovery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// route53Model answers what Route 53 would answer for a name. moto stores
// records, health checks and alarms but evaluates none of them (MOTO.md),
// so this model, in test code, is the evaluation: a simple record answers
// its target; a failover pair answers the PRIMARY while its health check
// is healthy, else the SECONDARY. Checks are evaluated from moto's stored
// configuration: HTTP(S) by the endpoint's health the test sets, CloudWatch
// metric checks by the alarm's stored state in its region, calculated ones
// by counting healthy children.
type route53Model struct {
	env *awsenv.Env // straight to moto, never through a fault proxy
	// region whose endpoint signs Route 53 calls (any: one account).
	region string
	mu     sync.Mutex
	down   map[string]bool // endpoints whose HTTP probe fails
	sent   *refusingRoute53
}

func newRoute53Model(env *awsenv.Env, region string, sent *refusingRoute53) *route53Model {
	return &route53Model{env: env, region: region, down: map[string]bool{}, sent: sent}
}

func (m *route53Model) setUp(host string, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down[strings.ToLower(host)] = !up
}

// answer is the target users of name reach.
func (m *route53Model) answer(t testing.TB, zone, name string) string {
	t.Helper()
	ctx := context.Background()
	c := route53.NewFromConfig(m.env.For(m.region))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(fqdn(zone))})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatalf("model: zone %s: %v", zone, err)
	}
	rrs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	var primary, secondary *r53types.ResourceRecordSet
	for i, rr := range rrs.ResourceRecordSets {
		if !strings.EqualFold(aws.ToString(rr.Name), fqdn(name)) {
			continue
		}
		switch rr.Failover {
		case r53types.ResourceRecordSetFailoverPrimary:
			primary = &rrs.ResourceRecordSets[i]
		case r53types.ResourceRecordSetFailoverSecondary:
			secondary = &rrs.ResourceRecordSets[i]
		default:
			if rr.Type == r53types.RRTypeA || rr.Type == r53types.RRTypeCname {
				return targetOf(rr)
			}
		}
	}
	if primary == nil || secondary == nil {
		t.Fatalf("model: %s has no failover pair", name)
	}
	if primary.HealthCheckId == nil || m.healthy(t, c, aws.ToString(primary.HealthCheckId)) {
		return targetOf(*primary)
	}
	return targetOf(*secondary)
}

func targetOf(rr r53types.ResourceRecordSet) string {
	if rr.AliasTarget != nil {
		return strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), ".")
	}
	return strings.TrimSuffix(aws.ToString(rr.ResourceRecords[0].Value), ".")
}

func (m *route53Model) healthy(t testing.TB, c *route53.Client, id string) bool {
	t.Helper()
	ctx := context.Background()
	out, err := c.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		t.Fatalf("model: health check %s: %v", id, err)
	}
	hc := out.HealthCheck.HealthCheckConfig
	var ok bool
	switch hc.Type {
	case r53types.HealthCheckTypeHttp, r53types.HealthCheckTypeHttps, r53types.HealthCheckTypeHttpStrMatch, r53types.HealthCheckTypeHttpsStrMatch, r53types.HealthCheckTypeTcp:
		m.mu.Lock()
		ok = !m.down[strings.ToLower(aws.ToString(hc.FullyQualifiedDomainName))]
		m.mu.Unlock()
	case r53types.HealthCheckTypeCloudwatchMetric:
		// moto drops the alarm of a CLOUDWATCH_METRIC check: the request
		// pilotlight sent, kept by the proxy, says which alarm it watches.
		region, name, insufficient := "", "", hc.InsufficientDataHealthStatus
		if a := hc.AlarmIdentifier; a != nil {
			region, name = string(a.Region), aws.ToString(a.Name)
		} else if m.sent != nil {
			region, name, insufficient = m.sent.alarmOf(id)
		}
		if name == "" {
			t.Fatalf("model: CloudWatch check %s: no alarm known", id)
		}
		hc.InsufficientDataHealthStatus = insufficient
		alarms, err := newCloudWatch(m.env.For(region)).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
		if err != nil {
			t.Fatalf("model: alarm %s in %s: %v", name, region, err)
		}
		switch {
		case len(alarms.MetricAlarms) == 0:
			// Route 53 treats a check whose alarm is gone as insufficient data.
			ok = hc.InsufficientDataHealthStatus != r53types.InsufficientDataHealthStatusUnhealthy
		case alarms.MetricAlarms[0].StateValue == cwtypes.StateValueAlarm:
			ok = false
		case alarms.MetricAlarms[0].StateValue == cwtypes.StateValueOk:
			ok = true
		default:
			ok = hc.InsufficientDataHealthStatus != r53types.InsufficientDataHealthStatusUnhealthy
		}
	case r53types.HealthCheckTypeCalculated:
		n := 0
		for _, child := range hc.ChildHealthChecks {
			if m.healthy(t, c, child) {
				n++
			}
		}
		ok = n >= int(aws.ToInt32(hc.HealthThreshold))
	default:
		t.Fatalf("model: health check type %s not modelled", hc.Type)
	}
	if aws.ToBool(hc.Inverted) {
		ok = !ok
	}
	return ok
}

// refusingRoute53 is a reverse proxy in front of moto that adds the one
// Route 53 rule moto lacks here: a CallerReference of a deleted health
// check is refused (Route 53 keeps it for days) with
// HealthCheckAlreadyExists. It also keeps each created check's request, for
// what moto drops: the AlarmIdentifier and InsufficientDataHealthStatus of
// a CLOUDWATCH_METRIC check.
type refusingRoute53 struct {
	rp      *httputil.ReverseProxy
	mu      sync.Mutex
	refs    map[string]string // health check id -> caller reference
	sent    map[string][]byte // health check id -> CreateHealthCheck request
	deleted map[string]bool   // caller references of deleted checks
}

var (
	callerRefRe    = regexp.MustCompile(`<CallerReference>([^<]*)</CallerReference>`)
	checkIDRe      = regexp.MustCompile(`<Id>([^<]*)</Id>`)
	alarmRe        = regexp.MustCompile(`<AlarmIdentifier>(.*?)</AlarmIdentifier>`)
	alarmRegionRe  = regexp.MustCompile(`<Region>([^<]*)</Region>`)
	alarmNameRe    = regexp.MustCompile(`<Name>([^<]*)</Name>`)
	insufficientRe = regexp.MustCompile(`<InsufficientDataHealthStatus>([^<]*)</InsufficientDataHealthStatus>`)
)

func newRefusingRoute53(t testing.TB, target string) (*refusingRoute53, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &refusingRoute53{rp: httputil.NewSingleHostReverseProxy(u), refs: map[string]string{}, sent: map[string][]byte{}, deleted: map[string]bool{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// alarmOf is the alarm identifier pilotlight sent for check id.
func (p *refusingRoute53) alarmOf(id string) (region, name string, insufficient r53types.InsufficientDataHealthStatus) {
	p.mu.Lock()
	body := p.sent[id]
	p.mu.Unlock()
	if a := alarmRe.FindSubmatch(body); a != nil {
		if m := alarmRegionRe.FindSubmatch(a[1]); m != nil {
			region = string(m[1])
		}
		if m := alarmNameRe.FindSubmatch(a[1]); m != nil {
			name = string(m[1])
		}
	}
	if m := insufficientRe.FindSubmatch(body); m != nil {
		insufficient = r53types.InsufficientDataHealthStatus(m[1])
	}
	return region, name, insufficient
}

func (p *refusingRoute53) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isRoute53 := strings.Contains(r.URL.Path, "/2013-04-01/")
	switch {
	case isRoute53 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/healthcheck"):
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		ref := callerRefRe.FindSubmatch(body)
		if ref != nil {
			p.mu.Lock()
			refused := p.deleted[string(ref[1])]
			p.mu.Unlock()
			if refused {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusConflict)
				fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>HealthCheckAlreadyExists</Code><Message>A health check with caller reference %s was deleted recently</Message></Error><RequestId>refused</RequestId></ErrorResponse>`, ref[1])
				return
			}
		}
		rec := p.forward(w, r)
		if id := checkIDRe.FindSubmatch(rec); id != nil && ref != nil {
			p.mu.Lock()
			p.refs[string(id[1])], p.sent[string(id[1])] = string(ref[1]), body
			p.mu.Unlock()
		}
	case isRoute53 && r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/healthcheck/"):
		if code := p.forwardCode(w, r); code < 300 {
			p.mu.Lock()
			p.deleted[p.refs[path.Base(r.URL.Path)]] = true
			p.mu.Unlock()
		}
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// forward passes r on and copies the answer to w, returning its body.
func (p *refusingRoute53) forward(w http.ResponseWriter, r *http.Request) []byte {
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	if rec.Code >= 300 {
		return nil
	}
	return rec.Body.Bytes()
}

func (p *refusingRoute53) forwardCode(w http.ResponseWriter, r *http.Request) int {
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return rec.Code
}
