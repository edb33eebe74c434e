package recovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// StepDNS is the dns kind's step id.
const StepDNS = "dns"

// dnsKind moves the domain to the recovered load balancer (or, in
// failover-records mode, checks that Route 53 can), and on teardown undoes
// a drill's record.
type dnsKind struct{}

// route53API is the part of Route 53 the DNS kind calls.
type route53API interface {
	ListHostedZonesByName(context.Context, *route53.ListHostedZonesByNameInput, ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(context.Context, *route53.ChangeResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(context.Context, *route53.GetChangeInput, ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	ListHealthChecks(context.Context, *route53.ListHealthChecksInput, ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error)
	CreateHealthCheck(context.Context, *route53.CreateHealthCheckInput, ...func(*route53.Options)) (*route53.CreateHealthCheckOutput, error)
	DeleteHealthCheck(context.Context, *route53.DeleteHealthCheckInput, ...func(*route53.Options)) (*route53.DeleteHealthCheckOutput, error)
}

type dnsClients struct{ r53 route53API }

func (c *clients) dns() dnsClients { return dnsClients{r53: c.r53} }

// dnsOut is what the DNS step records; the report shows it.
type dnsOut struct {
	Mode, Record, Target string
	Healthy              string // healthy DR targets (failover-records mode)
	SetByHand            string // the record to set at the DNS provider (manual mode)
	Pin                  string // the alarm set to keep traffic in the DR region
}

func (o dnsOut) outputs() runbook.Outputs {
	return outputs("mode", o.Mode, "record", o.Record, "target", o.Target, "healthy", o.Healthy, "set_by_hand", o.SetByHand, "pin", o.Pin)
}

func (dnsKind) ID() string      { return StepDNS }
func (dnsKind) After() []string { return []string{StepApp, StepLoadBalancer} }
func (dnsKind) Used(r *Recovery) bool {
	return r.cfg.Recover.App != nil && r.cfg.Recover.DNS != nil
}

func (dnsKind) Plan(r *Recovery) string {
	d := r.cfg.Recover.DNS
	if r.opts.Kind == KindFailback {
		return "point " + d.Record + " back at the primary"
	}
	if r.opts.Kind == KindDrill {
		if d.DrillRecord != "" && d.Mode != spec.DNSManual {
			return "UPSERT drill record " + d.DrillRecord + " to the drill load balancer (production record untouched)"
		}
		return "leave DNS untouched (drill)"
	}
	switch d.Mode {
	case spec.DNSUpsert:
		return fmt.Sprintf("UPSERT %s (%s) to the DR load balancer and wait INSYNC", d.Record, d.Type)
	case spec.DNSFailoverRecords:
		if usesPin(r.cfg) {
			return "no Route 53 call: the SECONDARY failover record already points at the DR load balancer; verify its targets are healthy, then set the alarm " + PinAlarmName(r.cfg.Stack) + " in " + r.cfg.DR.Region + " so that the PRIMARY stays unhealthy until failback"
		}
		return "no Route 53 call: the SECONDARY failover record already points at the DR load balancer; verify its targets are healthy"
	default:
		return "print the record to set by hand for " + d.Record
	}
}

// Create moves the domain to the recovered load balancer, as the mode says.
func (dnsKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	if r.opts.Kind == KindFailback {
		return failbackDNS(ctx, r, rc)
	}
	c := r.c.dns()
	d := r.cfg.Recover.DNS
	lb := loadBalancerOf(rc.Outputs(StepLoadBalancer))
	lbDNS := lb.DNS
	if r.opts.Kind == KindDrill {
		if d.DrillRecord == "" || d.Mode == spec.DNSManual {
			return dnsOut{Mode: "untouched"}.outputs(), nil
		}
		if err := upsertRecord(ctx, c, d, d.DrillRecord, lbDNS, r.cfg.DR.Region, r.wait); err != nil {
			return nil, err
		}
		return dnsOut{Mode: "drill-record", Record: d.DrillRecord, Target: lbDNS}.outputs(), nil
	}
	switch d.Mode {
	case spec.DNSUpsert:
		cctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		defer cancel()
		if err := upsertRecord(cctx, c, d, d.Record, lbDNS, r.cfg.DR.Region, r.wait); err != nil {
			if why, depends := DNSDependsOnPrimary(r.cfg); depends {
				return nil, fmt.Errorf("%w: %s. The DR stack is up: point %s at %s by hand. (%v)", ErrControlPlaneDown, why, d.Record, lbDNS, err)
			}
			return nil, err
		}
		return dnsOut{Mode: d.Mode, Record: d.Record, Target: lbDNS}.outputs(), nil
	case spec.DNSFailoverRecords:
		healthy, err := healthyTargets(ctx, r.c.targetHealth(), lb.TargetGroup)
		if err != nil {
			return nil, err
		}
		if healthy == 0 {
			return nil, fmt.Errorf("the DR load balancer %s has no healthy targets: Route 53 cannot fail over to it", lbDNS)
		}
		out := dnsOut{Mode: d.Mode, Record: d.Record, Target: lbDNS, Healthy: strconv.Itoa(healthy)}
		// Pin the traffic here: a primary that answers again must not take
		// it back. CloudWatch in the DR region, no Route 53 call.
		if usesPin(r.cfg) {
			switch err := setPin(ctx, r.c.pin(), r.cfg.Stack, true); {
			case errors.Is(err, errNoPin):
				r.opts.Log.Warn("nothing pins traffic to the DR region: when the primary answers again, Route 53 sends users back to it", "error", err)
				out.Pin = "missing"
			case err != nil:
				return nil, err
			default:
				out.Pin = PinAlarmName(r.cfg.Stack)
			}
		}
		return out.outputs(), nil
	default:
		rec := fmt.Sprintf("%s %d IN CNAME %s.", fqdn(d.Record), d.TTL, strings.TrimSuffix(lbDNS, "."))
		r.opts.Log.Warn("DNS is manual: set this record at your DNS provider", "record", rec)
		return dnsOut{Mode: d.Mode, Record: d.Record, Target: lbDNS, SetByHand: rec}.outputs(), nil
	}
}

// failbackDNS moves the domain back. All regions answer now, so every mode may
// use Route 53's control plane.
func failbackDNS(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	f := r.from
	d := f.cfg.Recover.DNS
	c := r.c.dns()
	lbDNS := loadBalancerOf(rc.Outputs(StepLoadBalancer)).DNS
	switch d.Mode {
	case spec.DNSUpsert:
		if err := upsertRecord(ctx, c, d, d.Record, lbDNS, f.cfg.Primary.Region, r.wait); err != nil {
			return nil, err
		}
	case spec.DNSFailoverRecords:
		// The PRIMARY record and its health check move to the new primary
		// load balancer; the SECONDARY keeps pointing at the DR one.
		cfg := *f.cfg
		dns := *d
		dns.PrimaryTarget = lbDNS
		cfg.Recover.DNS = &dns
		drLB, err := findPreparedLB(ctx, f.c.loadBalancer(), f.n)
		if err != nil {
			return nil, err
		}
		store, err := stateStore(ctx, f.cfg, r.env)
		if err != nil {
			return nil, err
		}
		defer store.Close()
		var ch changes
		if err := ensureFailoverRecords(ctx, c, &cfg, drLB.DNS, store, &ch, r.wait); err != nil {
			return nil, err
		}
		// The PRIMARY record now names the new load balancer: unpin it.
		if usesPin(f.cfg) {
			if err := setPin(ctx, f.c.pin(), f.cfg.Stack, false); err != nil && !errors.Is(err, errNoPin) {
				return nil, err
			}
		}
		r.opts.Log.Info("update recover.dns.primary_target in the config: production now runs behind a new load balancer", "primary_target", lbDNS)
	default:
		rec := fmt.Sprintf("%s %d IN CNAME %s.", fqdn(d.Record), d.TTL, strings.TrimSuffix(lbDNS, "."))
		return dnsOut{Mode: d.Mode, Record: d.Record, Target: lbDNS, SetByHand: rec}.outputs(), nil
	}
	return dnsOut{Mode: d.Mode, Record: d.Record, Target: lbDNS}.outputs(), nil
}

func (dnsKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	d := r.cfg.Recover.DNS
	switch {
	case d == nil:
		return "no DNS configured"
	case r.opts.Kind == KindDrill && d.DrillRecord != "":
		return "delete drill record " + d.DrillRecord + " if it points at the drill load balancer"
	case r.opts.Kind == KindFailover && d.Mode == spec.DNSUpsert:
		return "refuse while " + d.Record + " still points at the DR load balancer (fail back first)"
	}
	return "nothing to change in DNS"
}

// Teardown deletes a drill's record, and refuses a failover's teardown
// while production still points at the DR load balancer.
func (dnsKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.dns()
	d := r.cfg.Recover.DNS
	if d == nil || d.Mode == spec.DNSManual {
		return nil, nil
	}
	lbs, err := r.c.loadBalancer().elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{r.n.lb()}})
	if err != nil || len(lbs.LoadBalancers) == 0 {
		return nil, nil // no load balancer of ours: no record can point at it
	}
	lbDNS := aws.ToString(lbs.LoadBalancers[0].DNSName)
	if r.opts.Kind == KindDrill {
		if d.DrillRecord == "" {
			return nil, nil
		}
		deleted, err := deleteRecord(ctx, c, d, d.DrillRecord, lbDNS, r.wait)
		if err != nil {
			return nil, err
		}
		if deleted {
			return runbook.Outputs{"deleted": d.DrillRecord}, nil
		}
		return nil, nil
	}
	if d.Mode == spec.DNSUpsert && !opts.Force {
		zoneID, err := findZone(ctx, c, d.Zone)
		if err != nil {
			return nil, err
		}
		out, err := c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn(d.Record))})
		if err != nil {
			return nil, fmt.Errorf("list records of %s: %w", d.Zone, err)
		}
		for _, rr := range out.ResourceRecordSets {
			if strings.EqualFold(aws.ToString(rr.Name), fqdn(d.Record)) && rr.AliasTarget != nil &&
				strings.EqualFold(strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), "."), lbDNS) {
				return nil, fmt.Errorf("%s still points at the DR load balancer %s: fail back first, or use --force", d.Record, lbDNS)
			}
			if strings.EqualFold(aws.ToString(rr.Name), fqdn(d.Record)) && len(rr.ResourceRecords) > 0 &&
				strings.EqualFold(strings.TrimSuffix(aws.ToString(rr.ResourceRecords[0].Value), "."), lbDNS) {
				return nil, fmt.Errorf("%s still points at the DR load balancer %s: fail back first, or use --force", d.Record, lbDNS)
			}
		}
	}
	return nil, nil
}

// albZones are the canonical hosted zone ids of Application Load Balancers
// per region, for Route 53 alias records. moto returns a placeholder for
// CanonicalHostedZoneId, so the table is the source (Elastic Load Balancing
// endpoints and quotas, AWS General Reference).
var albZones = map[string]string{
	"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
	"us-west-2": "Z1H1FL5HABSF5", "ca-central-1": "ZQSVJUPU6J1EY", "eu-central-1": "Z215JYRZR1TBD5",
	"eu-west-1": "Z32O12XQLNTSW2", "eu-west-2": "ZHURV8PSTC4K8", "eu-west-3": "Z3Q77PNBQS71R4",
	"eu-north-1": "Z23TAZ6LKFMNIO", "eu-south-1": "Z3ULH7SSC9OV64", "ap-east-1": "Z3DQVH9N71FHZ0",
	"ap-south-1": "ZP97RAFLXTNZK", "ap-northeast-1": "Z14GRHDCWA56QT", "ap-northeast-2": "ZWKZPGTI48KDX",
	"ap-northeast-3": "Z5LXEXXYW11ES", "ap-southeast-1": "Z1LMS91P8CMLE5", "ap-southeast-2": "Z1GM3OXH4ZPM65",
	"sa-east-1": "Z2P70J7HTTTPLU", "me-south-1": "ZS929ML54UICD", "af-south-1": "Z268VQBMOI5EKX",
	"cn-north-1": "Z1GDH35T77C1KE", "cn-northwest-1": "ZM7IZAIOVVDZF",
	"us-gov-west-1": "Z33AYJ8TM3BH4J", "us-gov-east-1": "Z166TLBEWOO7G0",
}

// ALBZone returns the canonical hosted zone of ALBs in region.
func ALBZone(region string) (string, error) {
	z, ok := albZones[region]
	if !ok {
		return "", fmt.Errorf("no known load balancer hosted zone for %s: use recover.dns.type cname", region)
	}
	return z, nil
}

func fqdn(s string) string { return strings.TrimSuffix(s, ".") + "." }

// findZone returns the hosted zone id of the configured zone.
func findZone(ctx context.Context, c dnsClients, zone string) (string, error) {
	out, err := c.r53.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(fqdn(zone))})
	if err != nil {
		return "", fmt.Errorf("find hosted zone %s: %w", zone, err)
	}
	for _, z := range out.HostedZones {
		if strings.EqualFold(aws.ToString(z.Name), fqdn(zone)) && (z.Config == nil || !z.Config.PrivateZone) {
			return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"), nil
		}
	}
	return "", fmt.Errorf("hosted zone %s not found in Route 53", zone)
}

// recordTo builds the record set pointing name at a load balancer in region.
func recordTo(d *spec.DNS, name, lbDNS, region string) (r53types.ResourceRecordSet, error) {
	if d.Type == "cname" {
		return r53types.ResourceRecordSet{
			Name: aws.String(fqdn(name)), Type: r53types.RRTypeCname, TTL: aws.Int64(int64(d.TTL)),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(lbDNS)}},
		}, nil
	}
	zone, err := ALBZone(region)
	if err != nil {
		return r53types.ResourceRecordSet{}, err
	}
	return r53types.ResourceRecordSet{
		Name: aws.String(fqdn(name)), Type: r53types.RRTypeA,
		AliasTarget: &r53types.AliasTarget{DNSName: aws.String(lbDNS), HostedZoneId: aws.String(zone), EvaluateTargetHealth: true},
	}, nil
}

// upsertRecord points name at the load balancer and waits for INSYNC.
func upsertRecord(ctx context.Context, c dnsClients, d *spec.DNS, name, lbDNS, region string, wait waitPolicy) error {
	zoneID, err := findZone(ctx, c, d.Zone)
	if err != nil {
		return err
	}
	rr, err := recordTo(d, name, lbDNS, region)
	if err != nil {
		return err
	}
	// Route 53 refuses an A alias beside a CNAME of the same name, and a
	// CNAME beside anything: a production CNAME is replaced in the same
	// batch rather than left to make the UPSERT fail (moto would keep both).
	plain, err := plainRecords(ctx, c, zoneID, name)
	if err != nil {
		return err
	}
	var todo []r53types.Change
	for _, old := range plain {
		if old.Type != rr.Type && (old.Type == r53types.RRTypeCname || rr.Type == r53types.RRTypeCname) {
			old := old
			todo = append(todo, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &old})
		}
	}
	todo = append(todo, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rr})
	return changeRecords(ctx, c, zoneID, wait, todo...)
}

func changeRecords(ctx context.Context, c dnsClients, zoneID string, wait waitPolicy, changes ...r53types.Change) error {
	out, err := c.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &r53types.ChangeBatch{Comment: aws.String("pilotlight"), Changes: changes},
	})
	if err != nil {
		return fmt.Errorf("change records in zone %s: %w", zoneID, err)
	}
	id := aws.ToString(out.ChangeInfo.Id)
	_, err = waitFor(ctx, wait, "Route 53 change "+id, func(ctx context.Context) (struct{}, bool, error) {
		ch, err := c.r53.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			return struct{}{}, false, fmt.Errorf("get change %s: %w", id, err)
		}
		return struct{}{}, ch.ChangeInfo.Status == r53types.ChangeStatusInsync, nil
	})
	return err
}

// deleteRecord removes name's record if it points at lbDNS; a record that
// points elsewhere (someone moved it on) is left alone.
func deleteRecord(ctx context.Context, c dnsClients, d *spec.DNS, name, lbDNS string, wait waitPolicy) (bool, error) {
	zoneID, err := findZone(ctx, c, d.Zone)
	if err != nil {
		return false, err
	}
	out, err := c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn(name))})
	if err != nil {
		return false, fmt.Errorf("list records of %s: %w", d.Zone, err)
	}
	for _, rr := range out.ResourceRecordSets {
		if !strings.EqualFold(aws.ToString(rr.Name), fqdn(name)) || rr.SetIdentifier != nil {
			continue
		}
		target := ""
		if rr.AliasTarget != nil {
			target = aws.ToString(rr.AliasTarget.DNSName)
		} else if len(rr.ResourceRecords) > 0 {
			target = aws.ToString(rr.ResourceRecords[0].Value)
		}
		if !strings.EqualFold(strings.TrimSuffix(target, "."), strings.TrimSuffix(lbDNS, ".")) {
			continue
		}
		rr := rr
		return true, changeRecords(ctx, c, zoneID, wait, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
	}
	return false, nil
}

// ensureFailoverRecords makes the static DNS of failover-records mode: a
// health check on the production target (pinned, where the DR region
// allows, by the failover alarm: see kind_dns_pin.go), a PRIMARY record to
// it and a SECONDARY record to the prepared DR load balancer. Route 53's
// data plane then moves traffic by itself; failover makes no Route 53 call.
// A simple record of the name is replaced only if it already points at
// the primary target, and is kept in the state store for `teardown
// --network` to put back.
func ensureFailoverRecords(ctx context.Context, c dnsClients, cfg *spec.Config, drLB string, store state.Store, ch *changes, wait waitPolicy) error {
	d := cfg.Recover.DNS
	zoneID, err := findZone(ctx, c, d.Zone)
	if err != nil {
		return err
	}
	// Route 53 refuses failover records beside a simple record of the same
	// name (and a CNAME beside anything): the plain production record is
	// replaced in the same change batch, so the name never stops resolving.
	// Only one that already sends users to the primary target is ours to
	// replace: anything else is someone's live traffic.
	plain, err := plainRecords(ctx, c, zoneID, d.Record)
	if err != nil {
		return err
	}
	for _, rr := range plain {
		if !pointsAt(rr, d.PrimaryTarget) {
			return fmt.Errorf("%s already has the record %q, which does not point at recover.dns.primary_target %s: "+
				"prepare replaces only a record that already sends users to the primary target; point it there first "+
				"(or correct primary_target), then run prepare again", d.Record, recordText(rr), d.PrimaryTarget)
		}
	}
	existing, err := failoverRecords(ctx, c, zoneID, d.Record)
	if err != nil {
		return err
	}
	if !ch.dry {
		if err := saveReplaced(ctx, store, cfg.Stack, d.Record, plain, len(existing) > 0); err != nil {
			return err
		}
	}
	checks, err := listHealthChecks(ctx, c)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	hcID, err := ensureHealthCheck(ctx, c, checks, cfg.Stack, "primary", primaryCheckConfig(cfg), ch)
	if err != nil {
		return err
	}
	keep[hcID] = true
	if usesPin(cfg) {
		pinID, err := ensureHealthCheck(ctx, c, checks, cfg.Stack, "notfo", pinCheckConfig(cfg), ch)
		if err != nil {
			return err
		}
		calcID, err := ensureHealthCheck(ctx, c, checks, cfg.Stack, "pin", calculatedConfig(hcID, pinID), ch)
		if err != nil {
			return err
		}
		keep[pinID], keep[calcID] = true, true
		hcID = calcID
	}
	primary, err := recordTo(d, d.Record, d.PrimaryTarget, cfg.Primary.Region)
	if err != nil {
		return err
	}
	primary.SetIdentifier, primary.Failover, primary.HealthCheckId = aws.String("primary"), r53types.ResourceRecordSetFailoverPrimary, aws.String(hcID)
	secondary, err := recordTo(d, d.Record, drLB, cfg.DR.Region)
	if err != nil {
		return err
	}
	secondary.SetIdentifier, secondary.Failover = aws.String("secondary"), r53types.ResourceRecordSetFailoverSecondary
	var todo []r53types.Change
	for _, rr := range plain {
		rr := rr
		todo = append(todo, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
		if ch.would("replace the record %q with the failover pair (kept in the state store for `teardown --network`)", recordText(rr)) {
			continue
		}
		ch.add("replaced the record %q with the failover pair (kept in the state store for `teardown --network`)", recordText(rr))
	}
	for _, want := range []r53types.ResourceRecordSet{primary, secondary} {
		if have, ok := existing[aws.ToString(want.SetIdentifier)]; ok && sameTarget(have, want) {
			continue
		}
		want := want
		todo = append(todo, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &want})
		if ch.would("upsert %s failover record %q", strings.ToLower(string(want.Failover)), recordText(want)) {
			if have, ok := existing[aws.ToString(want.SetIdentifier)]; ok {
				ch.list[len(ch.list)-1] += fmt.Sprintf(" (replacing %q)", recordText(have))
			}
			continue
		}
		ch.add("upserted %s failover record %s", strings.ToLower(string(want.Failover)), d.Record)
	}
	if len(todo) > 0 && !ch.dry {
		if err := changeRecords(ctx, c, zoneID, wait, todo...); err != nil {
			return err
		}
	}
	// Checks of earlier targets or settings watch nothing now.
	for _, h := range staleChecks(checks, cfg.Stack, keep) {
		if ch.would("delete stale Route 53 health check %s", aws.ToString(h.Id)) {
			continue
		}
		if _, err := c.r53.DeleteHealthCheck(ctx, &route53.DeleteHealthCheckInput{HealthCheckId: h.Id}); err != nil {
			return fmt.Errorf("delete stale health check %s: %w", aws.ToString(h.Id), err)
		}
		ch.add("deleted stale Route 53 health check %s", aws.ToString(h.Id))
	}
	return nil
}

// primaryCheckConfig is the probe of the production endpoint.
func primaryCheckConfig(cfg *spec.Config) *r53types.HealthCheckConfig {
	d := cfg.Recover.DNS
	path := "/"
	if cfg.Recover.App != nil {
		path = cfg.Recover.App.LoadBalancer.HealthCheckPath
	}
	h := d.HealthCheck.Resolve(path, d.PrimaryTarget)
	hc := &r53types.HealthCheckConfig{
		Type: r53types.HealthCheckTypeHttp, FullyQualifiedDomainName: aws.String(h.Host),
		Port: aws.Int32(int32(h.Port)), ResourcePath: aws.String(h.Path), FailureThreshold: aws.Int32(3), RequestInterval: aws.Int32(30),
	}
	if h.Protocol == "https" {
		hc.Type, hc.EnableSNI = r53types.HealthCheckTypeHttps, aws.Bool(*h.SNI)
	}
	return hc
}

// listHealthChecks reads every health check of the account: an account
// has more than one page (100) of them soon enough.
func listHealthChecks(ctx context.Context, c dnsClients) ([]r53types.HealthCheck, error) {
	var all []r53types.HealthCheck
	p := route53.NewListHealthChecksPaginator(c.r53, &route53.ListHealthChecksInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list health checks: %w", err)
		}
		all = append(all, out.HealthChecks...)
	}
	return all, nil
}

// ensureHealthCheck finds the stack's check of this role and settings, or
// makes one. The caller reference names the stack, role and settings, and
// ends with the creation time: Route 53 refuses, for days, the reference
// of a deleted check, so no two creations may share one.
func ensureHealthCheck(ctx context.Context, c dnsClients, checks []r53types.HealthCheck, stack, role string, want *r53types.HealthCheckConfig, ch *changes) (string, error) {
	prefix := healthCheckRefPrefix(stack, role, want)
	for _, h := range checks {
		if strings.HasPrefix(aws.ToString(h.CallerReference), prefix) {
			return aws.ToString(h.Id), nil
		}
	}
	if ch.would("create Route 53 %s health check (%s)", string(want.Type), role) {
		return placeholder(role + " health check"), nil
	}
	ref := prefix + strconv.FormatInt(time.Now().UnixMilli(), 36)
	out, err := c.r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: aws.String(ref), HealthCheckConfig: want})
	if err != nil {
		return "", fmt.Errorf("create %s health check %s: %w", role, ref, err)
	}
	id := aws.ToString(out.HealthCheck.Id)
	ch.add("created Route 53 %s health check %s (%s)", string(want.Type), id, role)
	return id, nil
}

// healthCheckRefPrefix is pl:<stack>:<role>:<settings hash>: at most 55
// characters for a 31-character stack, leaving room for the creation time
// within the 64 Route 53 allows.
func healthCheckRefPrefix(stack, role string, cfg *r53types.HealthCheckConfig) string {
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(bytes.ToLower(b))
	return healthCheckStackPrefix(stack) + role + ":" + hex.EncodeToString(sum[:])[:8] + ":"
}

func healthCheckStackPrefix(stack string) string { return "pl:" + stack + ":" }

// legacyHealthCheckPrefix is the deterministic reference of earlier
// versions; their checks are still the stack's to delete.
func legacyHealthCheckPrefix(stack string) string { return fit(stack, 40) + "-primary-" }

func stackCheck(h r53types.HealthCheck, stack string) bool {
	ref := aws.ToString(h.CallerReference)
	return strings.HasPrefix(ref, healthCheckStackPrefix(stack)) || strings.HasPrefix(ref, legacyHealthCheckPrefix(stack))
}

// staleChecks are the stack's checks not in keep, calculated ones first:
// Route 53 refuses to delete a check a calculated one still watches.
func staleChecks(checks []r53types.HealthCheck, stack string, keep map[string]bool) []r53types.HealthCheck {
	var stale []r53types.HealthCheck
	for _, h := range checks {
		if stackCheck(h, stack) && !keep[aws.ToString(h.Id)] {
			stale = append(stale, h)
		}
	}
	slices.SortStableFunc(stale, func(a, b r53types.HealthCheck) int {
		ca := a.HealthCheckConfig != nil && a.HealthCheckConfig.Type == r53types.HealthCheckTypeCalculated
		cb := b.HealthCheckConfig != nil && b.HealthCheckConfig.Type == r53types.HealthCheckTypeCalculated
		switch {
		case ca && !cb:
			return -1
		case cb && !ca:
			return 1
		}
		return 0
	})
	return stale
}

// pointsAt reports whether a simple record sends users to target: a CNAME
// to it or an alias to it (Route 53 may store an ELB alias as dualstack.).
func pointsAt(rr r53types.ResourceRecordSet, target string) bool {
	norm := func(s string) string {
		return strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(s), "."), "dualstack.")
	}
	if rr.AliasTarget != nil {
		return norm(aws.ToString(rr.AliasTarget.DNSName)) == norm(target)
	}
	return rr.Type == r53types.RRTypeCname && len(rr.ResourceRecords) == 1 && norm(aws.ToString(rr.ResourceRecords[0].Value)) == norm(target)
}

// recordText shows a record as a zone file would.
func recordText(rr r53types.ResourceRecordSet) string {
	name := aws.ToString(rr.Name)
	if rr.AliasTarget != nil {
		return fmt.Sprintf("%s %s ALIAS %s", name, rr.Type, aws.ToString(rr.AliasTarget.DNSName))
	}
	var vals []string
	for _, v := range rr.ResourceRecords {
		vals = append(vals, aws.ToString(v.Value))
	}
	return fmt.Sprintf("%s %d %s %s", name, aws.ToInt64(rr.TTL), rr.Type, strings.Join(vals, " "))
}

// replaced is what prepare took out of the zone: the simple records of
// the name, or none when the name had none.
type replaced struct {
	Record  string                       `json:"record"`
	Records []r53types.ResourceRecordSet `json:"records"`
}

func replacedKey(stack, record string) string {
	return "dns/" + stack + "/replaced/" + strings.ToLower(strings.TrimSuffix(record, "."))
}

// saveReplaced keeps the records prepare is about to replace. With none to
// replace, it records that the name had none, unless the pair already
// exists (then what it replaced was saved when it was made).
func saveReplaced(ctx context.Context, store state.Store, stack, record string, plain []r53types.ResourceRecordSet, pairExists bool) error {
	key := replacedKey(stack, record)
	if len(plain) == 0 {
		if pairExists {
			return nil
		}
		if _, err := store.Get(ctx, key); err == nil {
			return nil
		} else if !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("read %s: %w", key, err)
		}
	}
	b, err := json.Marshal(replaced{Record: record, Records: plain})
	if err != nil {
		return err
	}
	if err := store.Put(ctx, key, b); err != nil {
		return fmt.Errorf("keep the replaced record of %s in the state store: %w", record, err)
	}
	return nil
}

func failoverRecords(ctx context.Context, c dnsClients, zoneID, name string) (map[string]r53types.ResourceRecordSet, error) {
	out, err := c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn(name))})
	if err != nil {
		return nil, fmt.Errorf("list records of zone %s: %w", zoneID, err)
	}
	got := map[string]r53types.ResourceRecordSet{}
	for _, rr := range out.ResourceRecordSets {
		if strings.EqualFold(aws.ToString(rr.Name), fqdn(name)) && rr.SetIdentifier != nil {
			got[aws.ToString(rr.SetIdentifier)] = rr
		}
	}
	return got, nil
}

// plainRecords returns the records of name without a routing policy of
// their own (no set identifier) whose type would clash with failover
// records: A, AAAA and CNAME.
func plainRecords(ctx context.Context, c dnsClients, zoneID, name string) ([]r53types.ResourceRecordSet, error) {
	out, err := c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn(name))})
	if err != nil {
		return nil, fmt.Errorf("list records of zone %s: %w", zoneID, err)
	}
	var plain []r53types.ResourceRecordSet
	for _, rr := range out.ResourceRecordSets {
		if !strings.EqualFold(aws.ToString(rr.Name), fqdn(name)) || rr.SetIdentifier != nil {
			continue
		}
		switch rr.Type {
		case r53types.RRTypeA, r53types.RRTypeAaaa, r53types.RRTypeCname:
			plain = append(plain, rr)
		}
	}
	return plain, nil
}

func sameTarget(a, b r53types.ResourceRecordSet) bool {
	target := func(r r53types.ResourceRecordSet) string {
		if r.AliasTarget != nil {
			return strings.TrimSuffix(strings.ToLower(aws.ToString(r.AliasTarget.DNSName)), ".")
		}
		if len(r.ResourceRecords) > 0 {
			return strings.TrimSuffix(strings.ToLower(aws.ToString(r.ResourceRecords[0].Value)), ".")
		}
		return ""
	}
	return a.Type == b.Type && target(a) == target(b) && aws.ToString(a.HealthCheckId) == aws.ToString(b.HealthCheckId)
}

// DNSDependsOnPrimary reports, for the configured mode, whether failover
// needs a control plane that lives in the primary region, and says so.
func DNSDependsOnPrimary(cfg *spec.Config) (string, bool) {
	d := cfg.Recover.DNS
	if d == nil || d.Mode != spec.DNSUpsert {
		return "", false
	}
	home := partition.HomeOf("route53", cfg.Primary.Region)
	if home != cfg.Primary.Region {
		return "", false
	}
	return fmt.Sprintf("dns mode upsert needs Route 53's control plane, which lives in %s, the primary region: "+
		"if %s is down, failover cannot change %s. Fix: use mode failover-records (records and a health check made ahead; "+
		"about USD 6/year for the health check and USD 200/year for the idle DR load balancer at us-east-1 list prices; "+
		"`pilotlight cost` prices it for your regions) or manual", home, home, d.Record), true
}

// dnsTimeout bounds the one Route 53 call a failover makes in upsert mode:
// an unreachable control plane must fail the step, not hang it.
const dnsTimeout = 2 * time.Minute

// deleteFailoverRecords deletes the failover pair and its health checks,
// and puts back exactly what prepare replaced.
func deleteFailoverRecords(ctx context.Context, r *Recovery, d *spec.DNS, store state.Store) error {
	c := r.c.dns()
	zoneID, err := findZone(ctx, c, d.Zone)
	if err != nil {
		return err
	}
	existing, err := failoverRecords(ctx, c, zoneID, d.Record)
	if err != nil {
		return err
	}
	key := replacedKey(r.cfg.Stack, d.Record)
	var changes []r53types.Change
	for _, id := range []string{"primary", "secondary"} {
		if rr, ok := existing[id]; ok {
			rr := rr
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
		}
	}
	if len(changes) > 0 {
		// What was there goes back in the same batch: the name must never
		// stop resolving.
		var was replaced
		switch b, err := store.Get(ctx, key); {
		case errors.Is(err, state.ErrNotFound):
			// Prepared by a version that kept nothing: production's target
			// is the best guess.
			r.opts.Log.Warn("the record prepare replaced was not kept; giving the name a record to primary_target", "record", d.Record, "primary_target", d.PrimaryTarget)
			if d.PrimaryTarget != "" {
				plain, err := recordTo(d, d.Record, d.PrimaryTarget, r.cfg.Primary.Region)
				if err != nil {
					return err
				}
				was.Records = append(was.Records, plain)
			}
		case err != nil:
			return fmt.Errorf("read %s: %w", key, err)
		default:
			if err := json.Unmarshal(b, &was); err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
		}
		for _, rr := range was.Records {
			rr := rr
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rr})
		}
		if err := changeRecords(ctx, c, zoneID, r.wait, changes...); err != nil {
			return err
		}
	}
	if err := store.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	checks, err := listHealthChecks(ctx, c)
	if err != nil {
		return err
	}
	for _, h := range staleChecks(checks, r.cfg.Stack, nil) {
		if _, err := c.r53.DeleteHealthCheck(ctx, &route53.DeleteHealthCheckInput{HealthCheckId: h.Id}); err != nil {
			return fmt.Errorf("delete health check %s: %w", aws.ToString(h.Id), err)
		}
	}
	return nil
}
