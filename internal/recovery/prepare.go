package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// PrepareResult says what `prepare` built, or that it changed nothing.
type PrepareResult struct {
	Region          string   `json:"region"`
	Network         Network  `json:"network"`
	InstanceRole    string   `json:"instance_profile,omitempty"`
	LoadBalancer    string   `json:"load_balancer,omitempty"`
	LoadBalancerDNS string   `json:"load_balancer_dns,omitempty"`
	Changes         []string `json:"changes"`
	Missing         []string `json:"missing,omitempty"`
}

// Prepare builds, idempotently, what must exist in the DR region before a
// disaster: the network (or a check of the one the config names), the
// app's IAM role and instance profile, and in failover-records mode the DR
// load balancer and the Route 53 failover records with their health check.
// Everything that needs IAM or Route 53's control plane happens here, while
// every region is up.
func Prepare(ctx context.Context, cfg *spec.Config, env *awsenv.Env) (*PrepareResult, error) {
	c := newClients(env, cfg.DR.Region)
	res := &PrepareResult{Region: cfg.DR.Region}
	var ch changes
	var err error
	if cfg.Recover.Network.VPC.IsZero() {
		res.Network, err = buildNetwork(ctx, c, cfg, &ch)
		if err != nil {
			return res, err
		}
	} else {
		var missing []string
		res.Network, missing, err = findExistingNetwork(ctx, c, cfg)
		if err != nil {
			return res, err
		}
		// Subnet groups pilotlight may make on a network it did not build.
		if len(res.Network.DBSubnets) > 0 {
			if err := ensureSubnetGroups(ctx, c, cfg, &res.Network, &ch); err != nil {
				return res, err
			}
			missing = filterOut(missing, "subnet group")
		}
		res.Missing = missing
		if len(missing) > 0 {
			return res, fmt.Errorf("the network named in recover.network is incomplete in %s: missing %s", cfg.DR.Region, strings.Join(missing, ", "))
		}
	}
	if cfg.Recover.App != nil {
		if res.InstanceRole, err = ensureAppRole(ctx, c, cfg, &ch); err != nil {
			return res, err
		}
	}
	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords && cfg.Recover.App != nil {
		n := newNames(cfg, "")
		lb, err := ensureLoadBalancer(ctx, c, cfg, n.preparedLB(), n.preparedTG(), res.Network, prepTags(cfg, "dr-load-balancer", n.preparedLB()), &ch)
		if err != nil {
			return res, err
		}
		res.LoadBalancer, res.LoadBalancerDNS = n.preparedLB(), lb.DNS
		if err := ensureFailoverRecords(ctx, c, cfg, lb.DNS, &ch, defaultWait()); err != nil {
			return res, err
		}
	}
	res.Changes = ch.list
	return res, nil
}

func filterOut(list []string, substr string) []string {
	var out []string
	for _, s := range list {
		if !strings.Contains(s, substr) {
			out = append(out, s)
		}
	}
	return out
}

// findPreparedLB finds the DR load balancer `prepare` made for
// failover-records mode; failover never creates it, since the SECONDARY
// record must already point at it.
func findPreparedLB(ctx context.Context, c *clients, n names) (LoadBalancer, error) {
	var lb LoadBalancer
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{n.preparedLB()}})
	var lbnf *elbtypes.LoadBalancerNotFoundException
	if errors.As(err, &lbnf) || (err == nil && len(lbs.LoadBalancers) == 0) {
		return lb, fmt.Errorf("the prepared DR load balancer %s is missing in %s: run `pilotlight prepare`", n.preparedLB(), c.region)
	}
	if err != nil {
		return lb, fmt.Errorf("describe load balancer %s: %s: %w", n.preparedLB(), c.region, err)
	}
	lb.ARN, lb.DNS = aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn), aws.ToString(lbs.LoadBalancers[0].DNSName)
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{n.preparedTG()}})
	if err != nil || len(tgs.TargetGroups) == 0 {
		return lb, fmt.Errorf("the prepared DR target group %s is missing in %s: run `pilotlight prepare`", n.preparedTG(), c.region)
	}
	lb.TargetGroup = aws.ToString(tgs.TargetGroups[0].TargetGroupArn)
	return lb, nil
}

// managedELB reports whether an ELBv2 resource carries the stack's tags
// with the given operation kind.
func managedELB(ctx context.Context, c *clients, arn, stack, opKind string) (bool, error) {
	out, err := c.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return false, fmt.Errorf("describe tags of %s: %s: %w", arn, c.region, err)
	}
	for _, d := range out.TagDescriptions {
		m := map[string]string{}
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return tags.Managed(m, stack) && m[tags.OpKind] == opKind, nil
	}
	return false, nil
}

// MissingNetwork lists what a failover would need from `prepare` and cannot
// find in the DR region; it changes nothing.
func MissingNetwork(ctx context.Context, env *awsenv.Env, cfg *spec.Config) ([]string, error) {
	c := newClients(env, cfg.DR.Region)
	_, missing, err := findNetwork(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords && cfg.Recover.App != nil {
		if _, err := findPreparedLB(ctx, c, newNames(cfg, "")); err != nil {
			missing = append(missing, "prepared DR load balancer "+newNames(cfg, "").preparedLB())
		}
	}
	return missing, nil
}
