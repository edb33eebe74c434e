package discover

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// normDNS compares DNS names as Route 53 and ELB write them: any case, a
// trailing dot, and the dualstack. prefix of alias targets.
func normDNS(s string) string {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	return strings.TrimPrefix(s, "dualstack.")
}

// unescapeName undoes Route 53's octal escapes (\052 is *).
func unescapeName(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// records finds the Route 53 records, alias or CNAME, that point at the
// load balancer. Route 53 is global: every hosted zone is read.
func (r *run) records(ctx context.Context) {
	if r.d.LoadBalancer == nil {
		return
	}
	target := normDNS(r.d.LoadBalancer.DNSName)
	zp := route53.NewListHostedZonesPaginator(r.c.Route53, &route53.ListHostedZonesInput{})
	seen := map[string]bool{}
	for zp.HasMorePages() {
		page, err := zp.NextPage(ctx)
		if err != nil {
			r.undecided("Route 53 could not be read (%v): no DNS record was looked for", err)
			return
		}
		for _, z := range page.HostedZones {
			if err := r.zoneRecords(ctx, z, target, seen); err != nil {
				r.undecided("the records of hosted zone %s could not be read (%v)", strings.TrimSuffix(aws.ToString(z.Name), "."), err)
			}
		}
	}
	sort.SliceStable(r.d.Records, func(i, j int) bool {
		a, b := r.d.Records[i], r.d.Records[j]
		if a.Private != b.Private {
			return !a.Private
		}
		if (a.Routing == "") != (b.Routing == "") {
			return a.Routing == ""
		}
		if len(a.Name) != len(b.Name) {
			return len(a.Name) < len(b.Name)
		}
		return a.Name < b.Name
	})
}

func (r *run) zoneRecords(ctx context.Context, z r53types.HostedZone, target string, seen map[string]bool) error {
	zone := strings.TrimSuffix(aws.ToString(z.Name), ".")
	zoneID := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
	private := z.Config != nil && z.Config.PrivateZone
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: z.Id}
	for {
		out, err := r.c.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			return err
		}
		for _, rr := range out.ResourceRecordSets {
			rec := Record{Zone: zone, ZoneID: zoneID, Name: strings.TrimSuffix(unescapeName(aws.ToString(rr.Name)), "."),
				Private: private, Routing: aws.ToString(rr.SetIdentifier)}
			switch {
			case rr.AliasTarget != nil && normDNS(aws.ToString(rr.AliasTarget.DNSName)) == target:
				rec.Type = "alias"
			case rr.Type == r53types.RRTypeCname && len(rr.ResourceRecords) > 0 && normDNS(aws.ToString(rr.ResourceRecords[0].Value)) == target:
				rec.Type = "cname"
				rec.TTL = int(aws.ToInt64(rr.TTL))
			default:
				continue
			}
			key := zoneID + " " + rec.Name + " " + rec.Routing
			if seen[key] {
				continue // the AAAA twin of an A alias
			}
			seen[key] = true
			rec.Found = rec.Type + " record in hosted zone " + zone + " (" + zoneID + ") pointing at load balancer " + r.d.LoadBalancer.Name
			if private {
				rec.Found += "; the zone is private"
			}
			r.d.Records = append(r.d.Records, rec)
		}
		if !out.IsTruncated {
			return nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
}
