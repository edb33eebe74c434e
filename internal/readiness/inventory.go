package readiness

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Found is one resource in the DR region that pilotlight made for the
// stack, as a teardown would find it.
type Found struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Note says what happens to it besides deletion (a final snapshot).
	Note string `json:"note,omitempty"`
}

// InventoryOptions choose what Inventory looks for.
type InventoryOptions struct {
	// OpKind is the operation whose resources are listed: failover or
	// drill (the pilotlight:op-kind tag).
	OpKind string
	// Network adds what prepare made.
	Network bool
	// SkipFinalSnapshot says the database goes without a final snapshot.
	SkipFinalSnapshot bool
}

// Inventory is what exists, for teardown's dry run and confirmation.
type Inventory struct {
	Region string   `json:"region"`
	Found  []Found  `json:"found"`
	Errors []string `json:"errors,omitempty"`
}

type inventoryRDS interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
}

type inventoryCache interface {
	DescribeReplicationGroups(context.Context, *elasticache.DescribeReplicationGroupsInput, ...func(*elasticache.Options)) (*elasticache.DescribeReplicationGroupsOutput, error)
	ListTagsForResource(context.Context, *elasticache.ListTagsForResourceInput, ...func(*elasticache.Options)) (*elasticache.ListTagsForResourceOutput, error)
}

type inventoryELB interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
}

type inventoryASG interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

type inventoryEC2 interface {
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeNatGateways(context.Context, *ec2.DescribeNatGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeInternetGateways(context.Context, *ec2.DescribeInternetGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
}

type inventoryClients struct {
	rds   inventoryRDS
	cache inventoryCache
	elb   inventoryELB
	asg   inventoryASG
	ec2   inventoryEC2
}

// ListDR lists what pilotlight made for the stack in the DR region by
// opts.OpKind (and with Network, by prepare), each found by its tags as
// teardown checks them: a resource without the stack's tags is never
// listed, since teardown never touches it.
func ListDR(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts InventoryOptions) *Inventory {
	ac := env.For(cfg.DR.Region)
	return listDR(ctx, inventoryClients{rds: rds.NewFromConfig(ac), cache: elasticache.NewFromConfig(ac), elb: elbv2.NewFromConfig(ac),
		asg: autoscaling.NewFromConfig(ac), ec2: ec2.NewFromConfig(ac)}, cfg, opts)
}

func listDR(ctx context.Context, c inventoryClients, cfg *spec.Config, opts InventoryOptions) *Inventory {
	inv := &Inventory{Region: cfg.DR.Region, Found: []Found{}}
	region := cfg.DR.Region
	ours := func(t map[string]string, kind string) bool {
		return tags.Managed(t, cfg.Stack) && t[tags.OpKind] == kind
	}
	add := func(typ, id, note string) { inv.Found = append(inv.Found, Found{Type: typ, ID: id, Note: note}) }
	fail := func(what string, err error) {
		inv.Errors = append(inv.Errors, fmt.Sprintf("%s: %s: %v", what, region, err))
	}
	k := opts.OpKind

	// In the order teardown deletes them: the app first, the network last.
	if p, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
		fail("auto scaling groups", err)
	} else {
		for _, g := range p.AutoScalingGroups {
			t := map[string]string{}
			for _, x := range g.Tags {
				t[aws.ToString(x.Key)] = aws.ToString(x.Value)
			}
			if ours(t, k) {
				add("auto-scaling-group", aws.ToString(g.AutoScalingGroupName), fmt.Sprintf("%d instance(s)", len(g.Instances)))
			}
		}
	}
	if out, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{}); err != nil {
		fail("launch templates", err)
	} else {
		for _, lt := range out.LaunchTemplates {
			if ours(tags.FromEC2(lt.Tags), k) {
				add("launch-template", aws.ToString(lt.LaunchTemplateId)+" ("+aws.ToString(lt.LaunchTemplateName)+")", "")
			}
		}
	}
	elbs(ctx, c.elb, func(t map[string]string) bool { return ours(t, k) }, add, fail)
	if out, err := c.cache.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{}); err != nil {
		fail("caches", err)
	} else {
		for _, rg := range out.ReplicationGroups {
			tl, err := c.cache.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: rg.ARN})
			if err != nil {
				fail("tags of cache "+aws.ToString(rg.ReplicationGroupId), err)
				continue
			}
			if ours(tags.FromElastiCache(tl.TagList), k) {
				add("elasticache", aws.ToString(rg.ReplicationGroupId), "")
			}
		}
	}
	note := "a final snapshot is taken first"
	if opts.SkipFinalSnapshot || k == "drill" {
		note = "no final snapshot"
	}
	if out, err := c.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err != nil {
		fail("databases", err)
	} else {
		for _, db := range out.DBInstances {
			if db.DBClusterIdentifier == nil && ours(tags.FromRDS(db.TagList), k) {
				add("rds-instance", aws.ToString(db.DBInstanceIdentifier), note)
			}
		}
	}
	if out, err := c.rds.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
		fail("database clusters", err)
	} else {
		for _, cl := range out.DBClusters {
			if ours(tags.FromRDS(cl.TagList), k) {
				add("rds-cluster", aws.ToString(cl.DBClusterIdentifier), note+" (with its instances)")
			}
		}
	}
	// NAT tag filters are not to be trusted (moto ignores them): the tags
	// of what comes back are checked.
	if out, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{}); err != nil {
		fail("NAT gateways", err)
	} else {
		for _, n := range out.NatGateways {
			if n.State != ec2types.NatGatewayStateDeleted && n.State != ec2types.NatGatewayStateDeleting && ours(tags.FromEC2(n.Tags), k) {
				add("nat-gateway", aws.ToString(n.NatGatewayId), "unless another operation's app still uses it")
			}
		}
	}
	if out, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{}); err != nil {
		fail("Elastic IPs", err)
	} else {
		for _, a := range out.Addresses {
			if ours(tags.FromEC2(a.Tags), k) {
				add("elastic-ip", aws.ToString(a.AllocationId)+" ("+aws.ToString(a.PublicIp)+")", "released with its NAT gateway")
			}
		}
	}
	if opts.Network {
		network(ctx, c.ec2, func(t map[string]string) bool { return ours(t, "prepare") }, add, fail)
	}
	return inv
}

func elbs(ctx context.Context, c inventoryELB, ours func(map[string]string) bool, add func(typ, id, note string), fail func(string, error)) {
	tagsOf := func(arns []string) (map[string]map[string]string, error) {
		out := map[string]map[string]string{}
		for i := 0; i < len(arns); i += 20 {
			page, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns[i:min(i+20, len(arns))]})
			if err != nil {
				return nil, err
			}
			for _, d := range page.TagDescriptions {
				out[aws.ToString(d.ResourceArn)] = tags.FromELB(d.Tags)
			}
		}
		return out, nil
	}
	lbs, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		fail("load balancers", err)
		return
	}
	var arns []string
	names := map[string]string{}
	for _, lb := range lbs.LoadBalancers {
		arns = append(arns, aws.ToString(lb.LoadBalancerArn))
		names[aws.ToString(lb.LoadBalancerArn)] = aws.ToString(lb.LoadBalancerName)
	}
	tgs, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		fail("target groups", err)
		return
	}
	isTG := map[string]bool{}
	for _, tg := range tgs.TargetGroups {
		arn := aws.ToString(tg.TargetGroupArn)
		arns = append(arns, arn)
		names[arn] = aws.ToString(tg.TargetGroupName)
		isTG[arn] = true
	}
	t, err := tagsOf(arns)
	if err != nil {
		fail("load balancer tags", err)
		return
	}
	for _, arn := range arns {
		if !ours(t[arn]) {
			continue
		}
		typ := "load-balancer"
		if isTG[arn] {
			typ = "target-group"
		}
		add(typ, names[arn], "")
	}
}

// network lists prepare's VPC and what is in it, found by tag.
func network(ctx context.Context, c inventoryEC2, ours func(map[string]string) bool, add func(typ, id, note string), fail func(string, error)) {
	type item struct{ typ, id string }
	var items []item
	if out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}); err != nil {
		fail("security groups", err)
	} else {
		for _, g := range out.SecurityGroups {
			if ours(tags.FromEC2(g.Tags)) {
				items = append(items, item{"security-group", aws.ToString(g.GroupId) + " (" + aws.ToString(g.GroupName) + ")"})
			}
		}
	}
	if out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}); err != nil {
		fail("subnets", err)
	} else {
		for _, s := range out.Subnets {
			if ours(tags.FromEC2(s.Tags)) {
				items = append(items, item{"subnet", aws.ToString(s.SubnetId) + " (" + aws.ToString(s.CidrBlock) + ")"})
			}
		}
	}
	if out, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{}); err != nil {
		fail("route tables", err)
	} else {
		for _, r := range out.RouteTables {
			if ours(tags.FromEC2(r.Tags)) {
				items = append(items, item{"route-table", aws.ToString(r.RouteTableId)})
			}
		}
	}
	if out, err := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{}); err != nil {
		fail("internet gateways", err)
	} else {
		for _, g := range out.InternetGateways {
			if ours(tags.FromEC2(g.Tags)) {
				items = append(items, item{"internet-gateway", aws.ToString(g.InternetGatewayId)})
			}
		}
	}
	if out, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		fail("VPCs", err)
	} else {
		for _, v := range out.Vpcs {
			if ours(tags.FromEC2(v.Tags)) {
				items = append(items, item{"vpc", aws.ToString(v.VpcId) + " (" + aws.ToString(v.CidrBlock) + ")"})
			}
		}
	}
	for _, it := range items {
		add(it.typ, it.id, "prepare's network")
	}
}
