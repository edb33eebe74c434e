package recovery

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// The app subnets are private. `prepare` gives them their own route table
// with an S3 gateway endpoint (free: s3fs reaches the replica bucket with
// no NAT), and a recovery adds a NAT gateway for the rest (packages, SSM,
// the Redis and DB endpoints' names) only while a recovered stack runs,
// as the seed's app/ did: a NAT costs every hour of the standby.

// ensureAppRouteTable makes the app subnets' route table with the S3
// gateway endpoint, and associates the app subnets with it.
func ensureAppRouteTable(ctx context.Context, c *clients, cfg *spec.Config, net Network, ch *changes) (string, error) {
	rt, err := findOne(ctx, c, cfg.Stack, "app-rt")
	if err != nil {
		return "", err
	}
	if rt == "" {
		out, err := c.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
			VpcId:             aws.String(net.VPC),
			TagSpecifications: ec2Tags(ec2types.ResourceTypeRouteTable, prepTags(cfg, "app-rt", cfg.Stack+"-dr-app")),
		})
		if err != nil {
			return "", fmt.Errorf("create app route table: %s: %w", c.region, err)
		}
		rt = aws.ToString(out.RouteTable.RouteTableId)
		ch.add("created app route table %s", rt)
	}
	desc, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rt}})
	if err != nil {
		return "", fmt.Errorf("describe route table %s: %s: %w", rt, c.region, err)
	}
	associated := map[string]bool{}
	for _, t := range desc.RouteTables {
		for _, a := range t.Associations {
			associated[aws.ToString(a.SubnetId)] = true
		}
	}
	for _, s := range net.AppSubnets {
		if associated[s] {
			continue
		}
		if _, err := c.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(rt), SubnetId: aws.String(s)}); err != nil {
			return "", fmt.Errorf("associate %s with %s: %s: %w", s, rt, c.region, err)
		}
		ch.add("associated app subnet %s with %s", s, rt)
	}
	eps, err := c.ec2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: tagFilters(cfg.Stack, "s3-endpoint")})
	if err != nil {
		return "", fmt.Errorf("describe VPC endpoints: %s: %w", c.region, err)
	}
	if len(eps.VpcEndpoints) == 0 {
		svc := "com.amazonaws." + c.region + ".s3"
		if _, err := c.ec2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcId: aws.String(net.VPC), ServiceName: aws.String(svc), VpcEndpointType: ec2types.VpcEndpointTypeGateway,
			RouteTableIds:     []string{rt},
			TagSpecifications: ec2Tags(ec2types.ResourceTypeVpcEndpoint, prepTags(cfg, "s3-endpoint", cfg.Stack+"-dr-s3")),
		}); err != nil {
			return "", fmt.Errorf("create S3 gateway endpoint %s: %w", svc, err)
		}
		ch.add("created S3 gateway endpoint for the app subnets")
	}
	return rt, nil
}

// runEgress gives the app subnets a NAT gateway for the recovery's life. A
// NAT that another operation of this stack already made is shared.
func (r *Recovery) runEgress(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := r.c
	net := r.network(rc)
	rt, err := findOne(ctx, c, r.cfg.Stack, "app-rt")
	if err != nil {
		return nil, err
	}
	if rt == "" {
		return nil, fmt.Errorf("the app route table is missing in %s: run `pilotlight prepare`", c.region)
	}
	nat, err := r.findNAT(ctx, "")
	if err != nil {
		return nil, err
	}
	if nat == "" {
		eip, err := r.ensureEIP(ctx, rc)
		if err != nil {
			return nil, err
		}
		out, err := c.ec2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
			SubnetId: aws.String(net.PublicSubnets[0]), AllocationId: aws.String(eip),
			TagSpecifications: ec2Tags(ec2types.ResourceTypeNatgateway, r.stepTags(rc, StepEgress, "nat")),
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
	return runbook.Outputs{"nat": nat, "route_table": rt}, nil
}

// findNAT returns a live NAT gateway of the stack, made by opKind (any
// kind when empty).
func (r *Recovery) findNAT(ctx context.Context, opKind string) (string, error) {
	f := []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{r.cfg.Stack}},
		{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{"nat"}},
		{Name: aws.String("state"), Values: []string{"pending", "available"}},
	}
	if opKind != "" {
		f = append(f, ec2types.Filter{Name: aws.String("tag:" + tags.OpKind), Values: []string{opKind}})
	}
	out, err := r.c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: f})
	if err != nil {
		return "", fmt.Errorf("describe NAT gateways: %s: %w", r.c.region, err)
	}
	if len(out.NatGateways) == 0 {
		return "", nil
	}
	return aws.ToString(out.NatGateways[0].NatGatewayId), nil
}

func (r *Recovery) ensureEIP(ctx context.Context, rc *runbook.RunContext) (string, error) {
	out, err := r.c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{r.cfg.Stack}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{"nat-ip"}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{r.opts.Kind}},
	}})
	if err != nil {
		return "", fmt.Errorf("describe addresses: %s: %w", r.c.region, err)
	}
	for _, a := range out.Addresses {
		if a.AssociationId == nil {
			return aws.ToString(a.AllocationId), nil
		}
	}
	ip, err := r.c.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc,
		TagSpecifications: ec2Tags(ec2types.ResourceTypeElasticIp, r.stepTags(rc, StepEgress, "nat-ip"))})
	if err != nil {
		return "", fmt.Errorf("allocate an Elastic IP for the NAT: %s: %w", r.c.region, err)
	}
	return aws.ToString(ip.AllocationId), nil
}

// teardownEgress deletes this kind's NAT gateway and its address, unless
// the other kind's app (a drill beside a failover) still uses it.
func (r *Recovery) teardownEgress(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := r.c
	nat, err := r.findNAT(ctx, r.opts.Kind)
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
	if rt, err := findOne(ctx, c, r.cfg.Stack, "app-rt"); err == nil && rt != "" {
		// The route goes first: a default route to a deleted NAT blackholes.
		_, _ = c.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String("0.0.0.0/0")})
	}
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
