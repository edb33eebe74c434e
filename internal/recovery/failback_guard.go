package recovery

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// guardELB is the part of ELBv2 the guard reads.
type guardELB interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	DescribeTags(context.Context, *elb.DescribeTagsInput, ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
}

// checkPrimaryTarget refuses, before prepare writes the failover records,
// to move the live PRIMARY record away from the load balancer a failback
// built for this stack: recover.dns.primary_target then still names the
// production the failback replaced, whose database is stale.
func checkPrimaryTarget(ctx context.Context, env *awsenv.Env, cfg *spec.Config) error {
	d := cfg.Recover.DNS
	if d == nil || d.Mode != spec.DNSFailoverRecords {
		return nil
	}
	dns := newClients(env, cfg.DR.Region).dns()
	zoneID, err := findZone(ctx, dns, d.Zone)
	if err != nil {
		return err
	}
	recs, err := failoverRecords(ctx, dns, zoneID, d.Record)
	if err != nil {
		return err
	}
	p, ok := recs["primary"]
	if !ok {
		return nil
	}
	live := ""
	switch {
	case p.AliasTarget != nil:
		live = aws.ToString(p.AliasTarget.DNSName)
	case len(p.ResourceRecords) > 0:
		live = aws.ToString(p.ResourceRecords[0].Value)
	}
	live = strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(live), "."), "dualstack.")
	if live == "" || live == strings.ToLower(d.PrimaryTarget) {
		return nil
	}
	c := newClients(env, cfg.Primary.Region)
	fb, err := failbackLB(ctx, c.elb, cfg, live)
	if err != nil || fb == "" {
		// Not a load balancer a failback made (or the primary cannot say):
		// primary_target is the user's choice.
		return nil
	}
	return fmt.Errorf("the PRIMARY record of %s points at %s, the load balancer failback built (%s), but recover.dns.primary_target still names %s, the production failback replaced: moving the record back would serve its stale database. Set recover.dns.primary_target to %s (the config change `pilotlight failback` printed, or --write-config), then prepare again",
		d.Record, live, fb, d.PrimaryTarget, live)
}

// failbackLB is the name of the load balancer of region whose DNS name is
// dnsName, if a failback of cfg's stack made it.
func failbackLB(ctx context.Context, c guardELB, cfg *spec.Config, dnsName string) (string, error) {
	p := elb.NewDescribeLoadBalancersPaginator(c, &elb.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("describe load balancers: %s: %w", cfg.Primary.Region, err)
		}
		for _, lb := range page.LoadBalancers {
			if !strings.EqualFold(aws.ToString(lb.DNSName), dnsName) {
				continue
			}
			out, err := c.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{aws.ToString(lb.LoadBalancerArn)}})
			if err != nil {
				return "", fmt.Errorf("tags of %s: %s: %w", aws.ToString(lb.LoadBalancerName), cfg.Primary.Region, err)
			}
			for _, td := range out.TagDescriptions {
				t := tags.FromELB(td.Tags)
				if tags.Managed(t, cfg.Stack) && t[tags.OpKind] == KindFailback {
					return aws.ToString(lb.LoadBalancerName), nil
				}
			}
		}
	}
	return "", nil
}
