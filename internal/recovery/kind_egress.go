package recovery

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// StepEgress is the egress kind's step id.
const StepEgress = "egress"

// egressKind gives the private app subnets a way out. `prepare` gives them
// their own route table with an S3 gateway endpoint (free: s3fs reaches the
// replica bucket with no NAT), and a recovery adds a NAT gateway for the
// rest (packages, SSM, the Redis and DB endpoints' names) only while a
// recovered stack runs, as the seed's app/ did: a NAT costs every hour of
// the standby.
type egressKind struct{}

// natEC2 is the part of EC2 egress calls.
type natEC2 interface {
	DescribeNatGateways(context.Context, *ec2.DescribeNatGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	CreateNatGateway(context.Context, *ec2.CreateNatGatewayInput, ...func(*ec2.Options)) (*ec2.CreateNatGatewayOutput, error)
	DeleteNatGateway(context.Context, *ec2.DeleteNatGatewayInput, ...func(*ec2.Options)) (*ec2.DeleteNatGatewayOutput, error)
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
	AllocateAddress(context.Context, *ec2.AllocateAddressInput, ...func(*ec2.Options)) (*ec2.AllocateAddressOutput, error)
	ReleaseAddress(context.Context, *ec2.ReleaseAddressInput, ...func(*ec2.Options)) (*ec2.ReleaseAddressOutput, error)
	DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	CreateRoute(context.Context, *ec2.CreateRouteInput, ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	ReplaceRoute(context.Context, *ec2.ReplaceRouteInput, ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	DeleteRoute(context.Context, *ec2.DeleteRouteInput, ...func(*ec2.Options)) (*ec2.DeleteRouteOutput, error)
}

// asgLister finds auto scaling groups by name.
type asgLister interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

type egressClients struct {
	region string
	ec2    natEC2
	asg    asgLister
}

func (c *clients) egress() egressClients {
	return egressClients{region: c.region, ec2: c.ec2, asg: c.asg}
}

// egressOut is what the egress step hands on. EIP is set only when this
// operation made the NAT gateway (and so its address): a NAT shared with
// another operation is not this one's to report as created.
type egressOut struct{ NAT, EIP, RouteTable string }

func (o egressOut) outputs() runbook.Outputs {
	return outputs("nat", o.NAT, "eip", o.EIP, "route_table", o.RouteTable)
}

func egressOf(o runbook.Outputs) egressOut {
	return egressOut{NAT: o["nat"], EIP: o["eip"], RouteTable: o["route_table"]}
}

func (egressKind) ID() string      { return StepEgress }
func (egressKind) After() []string { return []string{StepNetwork} }
func (egressKind) Used(r *Recovery) bool {
	return r.cfg.Recover.App != nil && r.ownsEgress()
}

func (egressKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "NAT gateway for the app subnets in " + r.cfg.DR.Region
	}
	return "NAT gateway for the app subnets (shared with another operation's if one runs)"
}

func (egressKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	return "delete this operation's NAT gateway and its address (kept while another operation's app uses it)"
}

// appRouteTable is the id and VPC of the app subnets' prepared route
// table, or "".
func appRouteTable(ctx context.Context, c egressClients, stack string) (id, vpc string, err error) {
	out, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: tagFilters(stack, "app-rt")})
	if err != nil {
		return "", "", fmt.Errorf("find route table of %s: %s: %w", stack, c.region, err)
	}
	for _, rt := range out.RouteTables {
		if tags.Managed(tags.FromEC2(rt.Tags), stack) {
			return aws.ToString(rt.RouteTableId), aws.ToString(rt.VpcId), nil
		}
	}
	return "", "", nil
}

// Create gives the app subnets a NAT gateway for the recovery's life. A
// NAT that another operation of this stack already made is shared.
func (egressKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := r.c.egress()
	net := r.network(rc)
	rt, _, err := appRouteTable(ctx, c, r.cfg.Stack)
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, fmt.Errorf("the app route table is missing in %s: run `pilotlight prepare`", c.region)
	}
	nat, err := findNAT(ctx, c, r.cfg.Stack, "", net.VPC)
	if err != nil {
		return nil, err
	}
	var eip string
	if nat == "" {
		eip, err = ensureEIP(ctx, c, r, rc)
		if err != nil {
			return nil, err
		}
		out, err := c.ec2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
			SubnetId: aws.String(net.PublicSubnets[0]), AllocationId: aws.String(eip),
			TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeNatgateway, r.stepTags(rc, StepEgress, "nat")),
		})
		if err != nil {
			return nil, fmt.Errorf("create NAT gateway in %s: %s: %w", net.PublicSubnets[0], c.region, err)
		}
		nat = aws.ToString(out.NatGateway.NatGatewayId)
	}
	if _, err := waitFor(ctx, r.wait, "NAT gateway "+nat, func(ctx context.Context) (struct{}, bool, error) {
		out, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{nat}})
		if err != nil || len(out.NatGateways) == 0 {
			return struct{}{}, false, err
		}
		switch s := out.NatGateways[0].State; s {
		case ec2types.NatGatewayStateAvailable:
			return struct{}{}, true, nil
		case ec2types.NatGatewayStateFailed, ec2types.NatGatewayStateDeleted:
			return struct{}{}, false, fmt.Errorf("NAT gateway %s is %s", nat, s)
		}
		return struct{}{}, false, nil
	}); err != nil {
		return nil, err
	}
	desc, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rt}})
	if err != nil {
		return nil, fmt.Errorf("describe route table %s: %s: %w", rt, c.region, err)
	}
	current := ""
	for _, t := range desc.RouteTables {
		for _, route := range t.Routes {
			if aws.ToString(route.DestinationCidrBlock) == "0.0.0.0/0" {
				current = aws.ToString(route.NatGatewayId)
				if current == "" {
					current = "other"
				}
			}
		}
	}
	switch current {
	case nat:
	case "":
		if _, err := c.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String(nat)}); err != nil {
			return nil, fmt.Errorf("default route via %s in %s: %s: %w", nat, rt, c.region, err)
		}
	default:
		if _, err := c.ec2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String(nat)}); err != nil {
			return nil, fmt.Errorf("default route via %s in %s: %s: %w", nat, rt, c.region, err)
		}
	}
	return egressOut{NAT: nat, EIP: eip, RouteTable: rt}.outputs(), nil
}

// findNAT returns a live NAT gateway of the stack in vpc, made by opKind
// (any kind when empty). The tag filters narrow the answer on AWS; the
// tags and VPC of what comes back are checked again here, because a filter
// a service ignores (moto does, for NAT gateways) must not make another
// stack's NAT ours to reuse or delete.
func findNAT(ctx context.Context, c egressClients, stack, opKind, vpc string) (string, error) {
	f := []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{"nat"}},
		{Name: aws.String("state"), Values: []string{"pending", "available"}},
	}
	if opKind != "" {
		f = append(f, ec2types.Filter{Name: aws.String("tag:" + tags.OpKind), Values: []string{opKind}})
	}
	out, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: f})
	if err != nil {
		return "", fmt.Errorf("describe NAT gateways: %s: %w", c.region, err)
	}
	for _, g := range out.NatGateways {
		t := tags.FromEC2(g.Tags)
		switch {
		case !tags.Managed(t, stack), t[tags.Role] != "nat", opKind != "" && t[tags.OpKind] != opKind:
		case aws.ToString(g.VpcId) != vpc:
		case g.State != ec2types.NatGatewayStatePending && g.State != ec2types.NatGatewayStateAvailable:
		default:
			return aws.ToString(g.NatGatewayId), nil
		}
	}
	return "", nil
}

func ensureEIP(ctx context.Context, c egressClients, r *Recovery, rc *runbook.RunContext) (string, error) {
	out, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{r.cfg.Stack}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{"nat-ip"}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{r.opts.Kind}},
	}})
	if err != nil {
		return "", fmt.Errorf("describe addresses: %s: %w", c.region, err)
	}
	for _, a := range out.Addresses {
		if a.AssociationId == nil {
			return aws.ToString(a.AllocationId), nil
		}
	}
	ip, err := c.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc,
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeElasticIp, r.stepTags(rc, StepEgress, "nat-ip"))})
	if err != nil {
		return "", fmt.Errorf("allocate an Elastic IP for the NAT: %s: %w", c.region, err)
	}
	return aws.ToString(ip.AllocationId), nil
}

// Teardown deletes this operation's NAT gateway and its address, unless
// the other kind's app (a drill beside a failover) still uses it.
func (egressKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.egress()
	rt, vpc, err := appRouteTable(ctx, c, r.cfg.Stack)
	if err != nil || rt == "" {
		// Without the prepared route table there is no VPC of the stack's
		// to hold a NAT of its own.
		return nil, err
	}
	nat, err := findNAT(ctx, c, r.cfg.Stack, r.opts.Kind, vpc)
	if err != nil || nat == "" {
		return nil, err
	}
	other := KindDrill
	if r.opts.Kind == KindDrill {
		other = KindFailover
	}
	suffix := ""
	if other == KindDrill {
		suffix = "drill"
	}
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{newNames(r.cfg, suffix).asg()}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling groups: %s: %w", c.region, err)
	}
	if len(out.AutoScalingGroups) > 0 {
		return runbook.Outputs{"kept": nat + " (the " + other + "'s app uses it)"}, nil
	}
	// The route goes first: a default route to a deleted NAT blackholes.
	_, _ = c.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String("0.0.0.0/0")})
	if _, err := c.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(nat)}); err != nil {
		return nil, fmt.Errorf("delete NAT gateway %s: %s: %w", nat, c.region, err)
	}
	if _, err := waitFor(ctx, r.wait, "deletion of NAT gateway "+nat, func(ctx context.Context) (struct{}, bool, error) {
		out, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{nat}})
		if err != nil {
			return struct{}{}, false, err
		}
		return struct{}{}, len(out.NatGateways) == 0 || out.NatGateways[0].State == ec2types.NatGatewayStateDeleted, nil
	}); err != nil {
		return nil, err
	}
	addrs, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{r.cfg.Stack}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{"nat-ip"}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{r.opts.Kind}},
	}})
	if err != nil {
		return nil, fmt.Errorf("describe addresses: %s: %w", c.region, err)
	}
	for _, a := range addrs.Addresses {
		if _, err := c.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: a.AllocationId}); err != nil {
			return nil, fmt.Errorf("release %s: %s: %w", aws.ToString(a.AllocationId), c.region, err)
		}
	}
	return runbook.Outputs{"deleted": nat}, nil
}
