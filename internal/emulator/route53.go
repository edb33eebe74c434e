package emulator

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

type regionEvent struct {
	region string
	dead   bool
	at     time.Duration // AWS time (see Proxy.Now)
}

// logRegion notes a region's death or revival; p.mu is held.
func (p *Proxy) logRegion(region string, dead bool) {
	p.regionLog = append(p.regionLog, regionEvent{region: region, dead: dead, at: p.nowLocked()})
}

// Now is the proxy's AWS time: its clock's when one is on, else real time
// since the proxy started.
func (p *Proxy) Now() time.Duration { p.mu.Lock(); defer p.mu.Unlock(); return p.nowLocked() }

func (p *Proxy) nowLocked() time.Duration {
	if p.clock != nil {
		return p.clock.Now()
	}
	return time.Since(p.started)
}

// Route53API is what the DNS model reads from (moto's) Route 53.
type Route53API interface {
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	GetHealthCheck(context.Context, *route53.GetHealthCheckInput, ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
}

// DNS is what Route 53 would answer, which moto never computes: it stores
// records and health checks and evaluates neither. The model evaluates a
// health check from the proxy's dead-region history (an endpoint is
// reachable while its region is alive), changing state only after
// RequestInterval × FailureThreshold of AWS time, as Route 53's checkers
// do, and resolves a failover pair as Route 53 documents: the primary while
// it is healthy, else a healthy secondary, else the primary.
type DNS struct {
	p       *Proxy
	api     Route53API
	regions map[string]string // host → region, where the name does not say
}

// NewDNS models Route 53 for the records api reads, with p's regions.
func NewDNS(p *Proxy, api Route53API) *DNS {
	return &DNS{p: p, api: api, regions: map[string]string{}}
}

// SetRegion says which region host (a health check's domain name or IP)
// lives in, when its name does not say (ALB names carry their region).
func (d *DNS) SetRegion(host, region string) { d.regions[strings.ToLower(host)] = region }

var regionInName = regexp.MustCompile(`\b([a-z]{2}(?:-gov)?-[a-z]+-\d)\b`)

func (d *DNS) regionOf(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if r, ok := d.regions[host]; ok {
		return r
	}
	return regionInName.FindString(host)
}

// Healthy says whether Route 53 considers health check id healthy at AWS
// time at (Proxy.Now for now).
func (d *DNS) Healthy(ctx context.Context, id string, at time.Duration) (bool, error) {
	out, err := d.api.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return false, fmt.Errorf("get health check %s: %w", id, err)
	}
	c := out.HealthCheck.HealthCheckConfig
	host := aws.ToString(c.FullyQualifiedDomainName)
	if host == "" {
		host = aws.ToString(c.IPAddress)
	}
	region := d.regionOf(host)
	if region == "" {
		return false, fmt.Errorf("health check %s: no region known for %q (DNS.SetRegion)", id, host)
	}
	interval := time.Duration(aws.ToInt32(c.RequestInterval)) * time.Second
	if interval == 0 {
		interval = 30 * time.Second // Route 53's default
	}
	threshold := time.Duration(aws.ToInt32(c.FailureThreshold))
	if threshold == 0 {
		threshold = 3 // Route 53's default
	}
	healthy := d.reachableFor(region, at, interval*threshold)
	if aws.ToBool(c.Inverted) {
		healthy = !healthy
	}
	return healthy, nil
}

// reachableFor is the health Route 53 shows at `at` for an endpoint in
// region: a change of the region's state shows only once it has lasted
// `settle` (FailureThreshold consecutive checks).
func (d *DNS) reachableFor(region string, at, settle time.Duration) bool {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	var events []regionEvent
	for _, e := range d.p.regionLog {
		if e.region == region {
			events = append(events, e)
		}
	}
	// A state shows once it has held, uninterrupted, for settle; a blip
	// shorter than that never reaches FailureThreshold checks in a row.
	shown := true // a region never killed is reachable; Route 53 starts healthy
	for i, e := range events {
		seen := e.at + settle
		if seen > at || (i+1 < len(events) && events[i+1].at < seen) {
			continue
		}
		shown = !e.dead
	}
	return shown
}

// Answer is what a failover pair resolves to.
type Answer struct {
	SetIdentifier string
	Failover      r53types.ResourceRecordSetFailover
	Values        []string // record values, or the alias target's DNS name
}

// Resolve answers what Route 53 would return for name's failover records
// in zone at AWS time at.
func (d *DNS) Resolve(ctx context.Context, zoneID, name string, at time.Duration) (Answer, error) {
	fq := strings.ToLower(strings.TrimSuffix(name, ".") + ".")
	out, err := d.api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fq)})
	if err != nil {
		return Answer{}, fmt.Errorf("list records %s in zone %s: %w", name, zoneID, err)
	}
	var primary, secondary *r53types.ResourceRecordSet
	for i, rr := range out.ResourceRecordSets {
		if strings.ToLower(aws.ToString(rr.Name)) != fq {
			continue
		}
		switch rr.Failover {
		case r53types.ResourceRecordSetFailoverPrimary:
			primary = &out.ResourceRecordSets[i]
		case r53types.ResourceRecordSetFailoverSecondary:
			secondary = &out.ResourceRecordSets[i]
		}
	}
	if primary == nil || secondary == nil {
		return Answer{}, fmt.Errorf("%s in zone %s: no failover pair (primary %v, secondary %v)", name, zoneID, primary != nil, secondary != nil)
	}
	ph, err := d.recordHealthy(ctx, primary, at)
	if err != nil {
		return Answer{}, err
	}
	if ph {
		return answerOf(primary), nil
	}
	sh, err := d.recordHealthy(ctx, secondary, at)
	if err != nil {
		return Answer{}, err
	}
	if sh {
		return answerOf(secondary), nil
	}
	// Both unhealthy: Route 53 considers all healthy and answers the primary.
	return answerOf(primary), nil
}

// recordHealthy: a record's own health check decides; an alias that
// evaluates target health is as healthy as its target's region; a record
// with neither is always healthy (Route 53 DNS failover docs).
func (d *DNS) recordHealthy(ctx context.Context, rr *r53types.ResourceRecordSet, at time.Duration) (bool, error) {
	if id := aws.ToString(rr.HealthCheckId); id != "" {
		return d.Healthy(ctx, id, at)
	}
	if a := rr.AliasTarget; a != nil && a.EvaluateTargetHealth {
		if r := d.regionOf(aws.ToString(a.DNSName)); r != "" {
			// Target health of an ALB follows its targets' checks; the
			// model takes the region's reachability, settled like a check.
			return d.reachableFor(r, at, 30*time.Second*3), nil
		}
	}
	return true, nil
}

func answerOf(rr *r53types.ResourceRecordSet) Answer {
	a := Answer{SetIdentifier: aws.ToString(rr.SetIdentifier), Failover: rr.Failover}
	for _, v := range rr.ResourceRecords {
		a.Values = append(a.Values, aws.ToString(v.Value))
	}
	if rr.AliasTarget != nil {
		a.Values = append(a.Values, aws.ToString(rr.AliasTarget.DNSName))
	}
	return a
}
