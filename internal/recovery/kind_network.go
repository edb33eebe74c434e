package recovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// StepNetwork is the network kind's step id.
const StepNetwork = "network"

// networkKind is the DR network: `prepare` builds it (VPC, subnets, routes,
// security groups, subnet groups); a failover or drill only finds it; a
// failback builds its own in the primary region; `teardown --network`
// deletes it.
type networkKind struct{}

// networkEC2 is the part of EC2 the network calls.
type networkEC2 interface {
	DescribeAvailabilityZones(context.Context, *ec2.DescribeAvailabilityZonesInput, ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	CreateVpc(context.Context, *ec2.CreateVpcInput, ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
	DeleteVpc(context.Context, *ec2.DeleteVpcInput, ...func(*ec2.Options)) (*ec2.DeleteVpcOutput, error)
	ModifyVpcAttribute(context.Context, *ec2.ModifyVpcAttributeInput, ...func(*ec2.Options)) (*ec2.ModifyVpcAttributeOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	CreateSubnet(context.Context, *ec2.CreateSubnetInput, ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	DeleteSubnet(context.Context, *ec2.DeleteSubnetInput, ...func(*ec2.Options)) (*ec2.DeleteSubnetOutput, error)
	ModifySubnetAttribute(context.Context, *ec2.ModifySubnetAttributeInput, ...func(*ec2.Options)) (*ec2.ModifySubnetAttributeOutput, error)
	DescribeInternetGateways(context.Context, *ec2.DescribeInternetGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
	CreateInternetGateway(context.Context, *ec2.CreateInternetGatewayInput, ...func(*ec2.Options)) (*ec2.CreateInternetGatewayOutput, error)
	AttachInternetGateway(context.Context, *ec2.AttachInternetGatewayInput, ...func(*ec2.Options)) (*ec2.AttachInternetGatewayOutput, error)
	DetachInternetGateway(context.Context, *ec2.DetachInternetGatewayInput, ...func(*ec2.Options)) (*ec2.DetachInternetGatewayOutput, error)
	DeleteInternetGateway(context.Context, *ec2.DeleteInternetGatewayInput, ...func(*ec2.Options)) (*ec2.DeleteInternetGatewayOutput, error)
	DescribeRouteTables(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	CreateRouteTable(context.Context, *ec2.CreateRouteTableInput, ...func(*ec2.Options)) (*ec2.CreateRouteTableOutput, error)
	DeleteRouteTable(context.Context, *ec2.DeleteRouteTableInput, ...func(*ec2.Options)) (*ec2.DeleteRouteTableOutput, error)
	CreateRoute(context.Context, *ec2.CreateRouteInput, ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	AssociateRouteTable(context.Context, *ec2.AssociateRouteTableInput, ...func(*ec2.Options)) (*ec2.AssociateRouteTableOutput, error)
	DisassociateRouteTable(context.Context, *ec2.DisassociateRouteTableInput, ...func(*ec2.Options)) (*ec2.DisassociateRouteTableOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	DeleteSecurityGroup(context.Context, *ec2.DeleteSecurityGroupInput, ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	DescribeVpcEndpoints(context.Context, *ec2.DescribeVpcEndpointsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
	CreateVpcEndpoint(context.Context, *ec2.CreateVpcEndpointInput, ...func(*ec2.Options)) (*ec2.CreateVpcEndpointOutput, error)
	DeleteVpcEndpoints(context.Context, *ec2.DeleteVpcEndpointsInput, ...func(*ec2.Options)) (*ec2.DeleteVpcEndpointsOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// subnetGroupRDS and subnetGroupCache are the subnet-group calls of RDS and
// ElastiCache: the network's share of those services.
type subnetGroupRDS interface {
	DescribeDBSubnetGroups(context.Context, *rds.DescribeDBSubnetGroupsInput, ...func(*rds.Options)) (*rds.DescribeDBSubnetGroupsOutput, error)
	CreateDBSubnetGroup(context.Context, *rds.CreateDBSubnetGroupInput, ...func(*rds.Options)) (*rds.CreateDBSubnetGroupOutput, error)
	DeleteDBSubnetGroup(context.Context, *rds.DeleteDBSubnetGroupInput, ...func(*rds.Options)) (*rds.DeleteDBSubnetGroupOutput, error)
}

type subnetGroupCache interface {
	DescribeCacheSubnetGroups(context.Context, *elasticache.DescribeCacheSubnetGroupsInput, ...func(*elasticache.Options)) (*elasticache.DescribeCacheSubnetGroupsOutput, error)
	CreateCacheSubnetGroup(context.Context, *elasticache.CreateCacheSubnetGroupInput, ...func(*elasticache.Options)) (*elasticache.CreateCacheSubnetGroupOutput, error)
	DeleteCacheSubnetGroup(context.Context, *elasticache.DeleteCacheSubnetGroupInput, ...func(*elasticache.Options)) (*elasticache.DeleteCacheSubnetGroupOutput, error)
}

type networkClients struct {
	region string
	ec2    networkEC2
	rds    subnetGroupRDS
	cache  subnetGroupCache
}

func (c *clients) network() networkClients {
	return networkClients{region: c.region, ec2: c.ec2, rds: c.rds, cache: c.cache}
}

func (networkKind) ID() string            { return StepNetwork }
func (networkKind) After() []string       { return nil }
func (networkKind) Used(r *Recovery) bool { return true }

func (networkKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "build or find the pilotlight network in " + r.cfg.DR.Region
	}
	return "find the prepared DR network in " + r.cfg.DR.Region + " (VPC, subnets, security groups, subnet groups); create nothing"
}

// Create finds the prepared network; a failback, whose primary region has
// no prepared network, builds it and the app's role.
func (networkKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	if r.opts.Kind == KindFailback {
		var ch changes
		net, err := buildNetwork(ctx, r.c.network(), r.cfg, &ch)
		if err != nil {
			return nil, err
		}
		if r.cfg.Recover.App != nil {
			if _, err := ensureAppRole(ctx, r.c.iam, r.cfg, &ch); err != nil {
				return nil, err
			}
		}
		return net.outputs(), nil
	}
	net, missing, err := findNetwork(ctx, r.c.network(), r.cfg)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the DR network in %s is incomplete (missing: %s): run `pilotlight prepare` before a disaster", r.cfg.DR.Region, strings.Join(missing, ", "))
	}
	return net.outputs(), nil
}

// network is the network step's outputs in a running graph.
func (r *Recovery) network(rc *runbook.RunContext) Network { return networkOf(rc.Outputs(StepNetwork)) }

func (networkKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	if !opts.Network {
		return ""
	}
	return "delete what prepare made: failover records and health check, DR load balancer, subnet groups, security groups, route table, subnets, internet gateway, VPC, app role"
}

// Network is the DR network the recovery plane builds on.
type Network struct {
	VPC              string   `json:"vpc"`
	PublicSubnets    []string `json:"public_subnets"`
	AppSubnets       []string `json:"app_subnets"`
	DBSubnets        []string `json:"db_subnets"`
	LBSecurityGroup  string   `json:"lb_security_group"`
	AppSecurityGroup string   `json:"app_security_group"`
	DBSecurityGroup  string   `json:"db_security_group"`
	DBSubnetGroup    string   `json:"db_subnet_group"`
	CacheSubnetGroup string   `json:"cache_subnet_group"`
}

// outputs flattens the network for the runbook journal.
func (n Network) outputs() runbook.Outputs {
	return outputs(
		"vpc", n.VPC, "public_subnets", strings.Join(n.PublicSubnets, ","),
		"app_subnets", strings.Join(n.AppSubnets, ","), "db_subnets", strings.Join(n.DBSubnets, ","),
		"sg_lb", n.LBSecurityGroup, "sg_app", n.AppSecurityGroup, "sg_db", n.DBSecurityGroup,
		"db_subnet_group", n.DBSubnetGroup, "cache_subnet_group", n.CacheSubnetGroup,
	)
}

func networkOf(o runbook.Outputs) Network {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	return Network{
		VPC: o["vpc"], PublicSubnets: split(o["public_subnets"]), AppSubnets: split(o["app_subnets"]),
		DBSubnets: split(o["db_subnets"]), LBSecurityGroup: o["sg_lb"], AppSecurityGroup: o["sg_app"],
		DBSecurityGroup: o["sg_db"], DBSubnetGroup: o["db_subnet_group"], CacheSubnetGroup: o["cache_subnet_group"],
	}
}

func tagFilters(stack, role string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}},
		{Name: aws.String("tag:" + tags.Role), Values: []string{role}},
	}
}

// subnetCIDR is Terraform's cidrsubnet(prefix, newbits, num), as the
// seed's basic/ used it (public i, app i+100, db i+200 with newbits 8).
func subnetCIDR(prefix netip.Prefix, newbits, num int) (netip.Prefix, error) {
	bits := prefix.Bits() + newbits
	if bits > 28 || num >= 1<<newbits {
		return netip.Prefix{}, fmt.Errorf("cidrsubnet(%s, %d, %d) does not fit", prefix, newbits, num)
	}
	a := prefix.Masked().Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	base |= uint32(num) << (32 - bits)
	addr := netip.AddrFrom4([4]byte{byte(base >> 24), byte(base >> 16), byte(base >> 8), byte(base)})
	return netip.PrefixFrom(addr, bits), nil
}

// buildNetwork makes, or finds, the seed's basic/ network in the DR region.
func buildNetwork(ctx context.Context, c networkClients, cfg *spec.Config, ch *changes) (Network, error) {
	n := newNames(cfg, "")
	prefix, err := netip.ParsePrefix(cfg.Recover.Network.CIDR)
	if err != nil {
		return Network{}, fmt.Errorf("recover.network.cidr: %w", err)
	}
	var net Network
	vpc, err := findOne(ctx, c, cfg.Stack, "vpc")
	if err != nil {
		return net, err
	}
	if vpc == "" && ch.would("create vpc %s (%s)", n.vpc(), prefix) {
		vpc = placeholder("vpc")
	}
	if vpc == "" {
		out, err := c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{
			CidrBlock:         aws.String(prefix.String()),
			TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeVpc, prepTags(cfg, "vpc", n.vpc())),
		})
		if err != nil {
			return net, fmt.Errorf("create vpc %s: %s: %w", n.vpc(), c.region, err)
		}
		vpc = aws.ToString(out.Vpc.VpcId)
		ch.add("created vpc %s (%s)", vpc, prefix)
		_, _ = c.ec2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: aws.String(vpc), EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}})
	}
	net.VPC = vpc

	igw, err := ensureIGW(ctx, c, cfg, vpc, ch)
	if err != nil {
		return net, err
	}
	azs, err := c.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
		Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}},
	})
	if err != nil {
		return net, fmt.Errorf("describe availability zones: %s: %w", c.region, err)
	}
	var zones []string
	for _, z := range azs.AvailabilityZones {
		zones = append(zones, aws.ToString(z.ZoneName))
	}
	sort.Strings(zones)
	want := cfg.Recover.Network.AZs
	if len(zones) < want {
		want = len(zones)
	}
	if want < 2 {
		return net, fmt.Errorf("%s has %d availability zones; RDS and the load balancer need two", c.region, len(zones))
	}
	for i := 0; i < want; i++ {
		for _, tier := range []struct {
			name   string
			offset int
			list   *[]string
		}{{"public", 0, &net.PublicSubnets}, {"app", 100, &net.AppSubnets}, {"db", 200, &net.DBSubnets}} {
			cidr, err := subnetCIDR(prefix, 8, i+tier.offset)
			if err != nil {
				return net, err
			}
			id, err := ensureSubnet(ctx, c, cfg, vpc, fmt.Sprintf("subnet-%s-%d", tier.name, i), zones[i], cidr.String(), tier.name == "public", ch)
			if err != nil {
				return net, err
			}
			*tier.list = append(*tier.list, id)
		}
	}
	if err := ensurePublicRoutes(ctx, c, cfg, vpc, igw, net.PublicSubnets, ch); err != nil {
		return net, err
	}
	if _, err := ensureAppRouteTable(ctx, c, cfg, net, ch); err != nil {
		return net, err
	}
	if err := ensureSecurityGroups(ctx, c, cfg, vpc, &net, ch); err != nil {
		return net, err
	}
	if err := ensureSubnetGroups(ctx, c, cfg, &net, ch); err != nil {
		return net, err
	}
	return net, nil
}

// findOne returns the id of the one prepared resource with that role.
func findOne(ctx context.Context, c networkClients, stack, role string) (string, error) {
	f := tagFilters(stack, role)
	switch {
	case role == "vpc":
		out, err := c.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: f})
		if err != nil {
			return "", fmt.Errorf("find vpc of %s: %s: %w", stack, c.region, err)
		}
		if len(out.Vpcs) > 0 {
			return aws.ToString(out.Vpcs[0].VpcId), nil
		}
	case role == "igw":
		out, err := c.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: f})
		if err != nil {
			return "", fmt.Errorf("find internet gateway of %s: %s: %w", stack, c.region, err)
		}
		if len(out.InternetGateways) > 0 {
			return aws.ToString(out.InternetGateways[0].InternetGatewayId), nil
		}
	case role == "public-rt" || role == "app-rt":
		out, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: f})
		if err != nil {
			return "", fmt.Errorf("find route table of %s: %s: %w", stack, c.region, err)
		}
		if len(out.RouteTables) > 0 {
			return aws.ToString(out.RouteTables[0].RouteTableId), nil
		}
	case strings.HasPrefix(role, "subnet-"):
		out, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: f})
		if err != nil {
			return "", fmt.Errorf("find %s of %s: %s: %w", role, stack, c.region, err)
		}
		if len(out.Subnets) > 0 {
			return aws.ToString(out.Subnets[0].SubnetId), nil
		}
	case strings.HasPrefix(role, "sg-"):
		out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: f})
		if err != nil {
			return "", fmt.Errorf("find %s of %s: %s: %w", role, stack, c.region, err)
		}
		if len(out.SecurityGroups) > 0 {
			return aws.ToString(out.SecurityGroups[0].GroupId), nil
		}
	default:
		return "", fmt.Errorf("unknown network role %q", role)
	}
	return "", nil
}

func ensureIGW(ctx context.Context, c networkClients, cfg *spec.Config, vpc string, ch *changes) (string, error) {
	id, err := findOne(ctx, c, cfg.Stack, "igw")
	if err != nil || id != "" {
		return id, err
	}
	if ch.would("create internet gateway %s attached to %s", cfg.Stack+"-dr-igw", vpc) {
		return placeholder("internet gateway"), nil
	}
	out, err := c.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeInternetGateway, prepTags(cfg, "igw", cfg.Stack+"-dr-igw")),
	})
	if err != nil {
		return "", fmt.Errorf("create internet gateway: %s: %w", c.region, err)
	}
	id = aws.ToString(out.InternetGateway.InternetGatewayId)
	if _, err := c.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpc)}); err != nil {
		return "", fmt.Errorf("attach internet gateway %s to %s: %s: %w", id, vpc, c.region, err)
	}
	ch.add("created internet gateway %s", id)
	return id, nil
}

func ensureSubnet(ctx context.Context, c networkClients, cfg *spec.Config, vpc, role, az, cidr string, public bool, ch *changes) (string, error) {
	id, err := findOne(ctx, c, cfg.Stack, role)
	if err != nil || id != "" {
		return id, err
	}
	if ch.would("create subnet %s (%s, %s)", role, cidr, az) {
		return placeholder(role), nil
	}
	out, err := c.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId: aws.String(vpc), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az),
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeSubnet, prepTags(cfg, role, cfg.Stack+"-dr-"+strings.TrimPrefix(role, "subnet-"))),
	})
	if err != nil {
		return "", fmt.Errorf("create subnet %s (%s in %s): %s: %w", role, cidr, az, c.region, err)
	}
	id = aws.ToString(out.Subnet.SubnetId)
	if public {
		if _, err := c.ec2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(id), MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
			return "", fmt.Errorf("public IPs on subnet %s: %s: %w", id, c.region, err)
		}
	}
	ch.add("created subnet %s %s (%s, %s)", role, id, cidr, az)
	return id, nil
}

func ensurePublicRoutes(ctx context.Context, c networkClients, cfg *spec.Config, vpc, igw string, public []string, ch *changes) error {
	rt, err := findOne(ctx, c, cfg.Stack, "public-rt")
	if err != nil {
		return err
	}
	if rt == "" && ch.would("create public route table with a default route via %s", igw) {
		rt = placeholder("public route table")
	}
	if rt == "" {
		out, err := c.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
			VpcId:             aws.String(vpc),
			TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeRouteTable, prepTags(cfg, "public-rt", cfg.Stack+"-dr-public")),
		})
		if err != nil {
			return fmt.Errorf("create public route table: %s: %w", c.region, err)
		}
		rt = aws.ToString(out.RouteTable.RouteTableId)
		if _, err := c.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rt), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igw)}); err != nil {
			return fmt.Errorf("default route via %s in %s: %s: %w", igw, rt, c.region, err)
		}
		ch.add("created public route table %s", rt)
	}
	associated, err := associatedSubnets(ctx, c, rt)
	if err != nil {
		return err
	}
	for _, s := range public {
		if associated[s] || ch.would("associate subnet %s with %s", s, rt) {
			continue
		}
		if _, err := c.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(rt), SubnetId: aws.String(s)}); err != nil {
			return fmt.Errorf("associate %s with %s: %s: %w", s, rt, c.region, err)
		}
		ch.add("associated subnet %s with %s", s, rt)
	}
	return nil
}

// ensureSecurityGroups builds the seed's groups: load balancer (80, 443
// from anywhere), app (all from the load balancer, and itself), db (3306
// and 6379 from app).
func ensureSecurityGroups(ctx context.Context, c networkClients, cfg *spec.Config, vpc string, net *Network, ch *changes) error {
	type group struct {
		role, desc string
		id         *string
	}
	groups := []group{
		{"sg-lb", "load balancer", &net.LBSecurityGroup},
		{"sg-app", "app servers", &net.AppSecurityGroup},
		{"sg-db", "database and cache", &net.DBSecurityGroup},
	}
	created := map[string]bool{}
	for _, g := range groups {
		id, err := findOne(ctx, c, cfg.Stack, g.role)
		if err != nil {
			return err
		}
		name := cfg.Stack + "-dr-" + strings.TrimPrefix(g.role, "sg-")
		if id == "" && ch.would("create security group %s with its ingress rules", name) {
			id = placeholder(name)
		}
		if id == "" {
			out, err := c.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
				GroupName: aws.String(name), Description: aws.String("pilotlight " + cfg.Stack + " DR " + g.desc), VpcId: aws.String(vpc),
				TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeSecurityGroup, prepTags(cfg, g.role, name)),
			})
			if err != nil {
				return fmt.Errorf("create security group %s: %s: %w", name, c.region, err)
			}
			id = aws.ToString(out.GroupId)
			created[g.role] = true
			ch.add("created security group %s %s", name, id)
		}
		*g.id = id
	}
	tcp := func(from, to int32) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
	}
	withCIDR := func(p ec2types.IpPermission) ec2types.IpPermission {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}
		return p
	}
	withGroup := func(p ec2types.IpPermission, g string) ec2types.IpPermission {
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(g)}}
		return p
	}
	all := ec2types.IpPermission{IpProtocol: aws.String("-1")}
	rules := map[string][]ec2types.IpPermission{
		"sg-lb":  {withCIDR(tcp(80, 80)), withCIDR(tcp(443, 443))},
		"sg-app": {withGroup(all, net.LBSecurityGroup), withGroup(all, net.AppSecurityGroup)},
		"sg-db":  {withGroup(tcp(3306, 3306), net.AppSecurityGroup), withGroup(tcp(6379, 6379), net.AppSecurityGroup)},
	}
	for _, g := range groups {
		if !created[g.role] {
			continue // rules were added when it was created
		}
		if _, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(*g.id), IpPermissions: rules[g.role]}); err != nil {
			return fmt.Errorf("authorize ingress on %s: %s: %w", *g.id, c.region, err)
		}
	}
	return nil
}

// subnetGroupNames are the DB and cache subnet groups a recovery uses: the
// ones the config names, else the ones prepare makes.
func subnetGroupNames(cfg *spec.Config) (db, cache string) {
	n := newNames(cfg, "")
	db, cache = n.dbSubnetGroup(), n.cacheSubnetGroup()
	if d := cfg.Recover.Database; d != nil && d.SubnetGroup != "" {
		db = d.SubnetGroup
	}
	if ca := cfg.Recover.Cache; ca != nil && ca.SubnetGroup != "" {
		cache = ca.SubnetGroup
	}
	return db, cache
}

func ensureSubnetGroups(ctx context.Context, c networkClients, cfg *spec.Config, net *Network, ch *changes) error {
	net.DBSubnetGroup, net.CacheSubnetGroup = subnetGroupNames(cfg)
	if d := cfg.Recover.Database; d == nil || d.SubnetGroup == "" {
		_, err := c.rds.DescribeDBSubnetGroups(ctx, &rds.DescribeDBSubnetGroupsInput{DBSubnetGroupName: aws.String(net.DBSubnetGroup)})
		var nf *rdstypes.DBSubnetGroupNotFoundFault
		switch {
		case errors.As(err, &nf) && ch.would("create DB subnet group %s", net.DBSubnetGroup):
		case errors.As(err, &nf):
			_, err := c.rds.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{
				DBSubnetGroupName: aws.String(net.DBSubnetGroup), DBSubnetGroupDescription: aws.String("pilotlight " + cfg.Stack + " DR database"),
				SubnetIds: net.DBSubnets, Tags: tags.RDS(prepTags(cfg, "db-subnet-group", net.DBSubnetGroup)),
			})
			if err != nil {
				return fmt.Errorf("create DB subnet group %s: %s: %w", net.DBSubnetGroup, c.region, err)
			}
			ch.add("created DB subnet group %s", net.DBSubnetGroup)
		case err != nil:
			return fmt.Errorf("describe DB subnet group %s: %s: %w", net.DBSubnetGroup, c.region, err)
		}
	}
	if ca := cfg.Recover.Cache; ca != nil && ca.SubnetGroup != "" {
		return nil
	}
	_, err := c.cache.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{CacheSubnetGroupName: aws.String(net.CacheSubnetGroup)})
	var nf *ectypes.CacheSubnetGroupNotFoundFault
	switch {
	case errors.As(err, &nf) && ch.would("create cache subnet group %s", net.CacheSubnetGroup):
	case errors.As(err, &nf):
		_, err := c.cache.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{
			CacheSubnetGroupName: aws.String(net.CacheSubnetGroup), CacheSubnetGroupDescription: aws.String("pilotlight " + cfg.Stack + " DR cache"),
			SubnetIds: net.DBSubnets, Tags: tags.ElastiCache(prepTags(cfg, "cache-subnet-group", net.CacheSubnetGroup)),
		})
		if err != nil {
			return fmt.Errorf("create cache subnet group %s: %s: %w", net.CacheSubnetGroup, c.region, err)
		}
		ch.add("created cache subnet group %s", net.CacheSubnetGroup)
	case err != nil:
		return fmt.Errorf("describe cache subnet group %s: %s: %w", net.CacheSubnetGroup, c.region, err)
	}
	return nil
}

// findNetwork locates the network a failover builds on, changing nothing:
// the prepared one, or the one the config names. Missing pieces are listed
// together so that one `prepare` (or one config fix) mends them all.
func findNetwork(ctx context.Context, c networkClients, cfg *spec.Config) (Network, []string, error) {
	nc := cfg.Recover.Network
	if !nc.VPC.IsZero() {
		return findExistingNetwork(ctx, c, cfg)
	}
	// A failover's critical path starts here: read every prepared piece in
	// four calls at once, not one call per piece.
	roles, err := prepared(ctx, c, cfg.Stack)
	if err != nil {
		return Network{}, nil, err
	}
	var net Network
	var missing []string
	get := func(role string) string {
		id := roles[role]
		if id == "" {
			missing = append(missing, role)
		}
		return id
	}
	net.VPC = get("vpc")
	for i := 0; i < nc.AZs; i++ {
		net.PublicSubnets = append(net.PublicSubnets, get(fmt.Sprintf("subnet-public-%d", i)))
		net.AppSubnets = append(net.AppSubnets, get(fmt.Sprintf("subnet-app-%d", i)))
		net.DBSubnets = append(net.DBSubnets, get(fmt.Sprintf("subnet-db-%d", i)))
	}
	net.LBSecurityGroup, net.AppSecurityGroup, net.DBSecurityGroup = get("sg-lb"), get("sg-app"), get("sg-db")
	get("app-rt")
	net.DBSubnetGroup, net.CacheSubnetGroup = subnetGroupNames(cfg)
	missing = append(missing, checkSubnetGroups(ctx, c, cfg, net)...)
	return net, missing, nil
}

// prepared maps each role tag of the stack's prepared network to its id.
func prepared(ctx context.Context, c networkClients, stack string) (map[string]string, error) {
	f := []ec2types.Filter{
		{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{"prepare"}},
	}
	roles := map[string]string{}
	var mu sync.Mutex
	note := func(ts []ec2types.Tag, id *string) {
		if role, ok := tags.FromEC2(ts)[tags.Role]; ok {
			mu.Lock()
			roles[role] = aws.ToString(id)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	run := func(i int, f func() error) { wg.Go(func() { errs[i] = f() }) }
	run(0, func() error {
		out, err := c.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: f})
		if err != nil {
			return fmt.Errorf("find the prepared vpc: %s: %w", c.region, err)
		}
		for _, v := range out.Vpcs {
			note(v.Tags, v.VpcId)
		}
		return nil
	})
	run(1, func() error {
		out, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: f})
		if err != nil {
			return fmt.Errorf("find the prepared subnets: %s: %w", c.region, err)
		}
		for _, s := range out.Subnets {
			note(s.Tags, s.SubnetId)
		}
		return nil
	})
	run(2, func() error {
		out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: f})
		if err != nil {
			return fmt.Errorf("find the prepared security groups: %s: %w", c.region, err)
		}
		for _, sg := range out.SecurityGroups {
			note(sg.Tags, sg.GroupId)
		}
		return nil
	})
	run(3, func() error {
		out, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: f})
		if err != nil {
			return fmt.Errorf("find the prepared route tables: %s: %w", c.region, err)
		}
		for _, rt := range out.RouteTables {
			note(rt.Tags, rt.RouteTableId)
		}
		return nil
	})
	wg.Wait()
	return roles, errors.Join(errs...)
}

func checkSubnetGroups(ctx context.Context, c networkClients, cfg *spec.Config, net Network) []string {
	var missing []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	miss := func(what string) { mu.Lock(); missing = append(missing, what); mu.Unlock() }
	if cfg.Recover.Database != nil {
		wg.Go(func() {
			if _, err := c.rds.DescribeDBSubnetGroups(ctx, &rds.DescribeDBSubnetGroupsInput{DBSubnetGroupName: aws.String(net.DBSubnetGroup)}); err != nil {
				miss("DB subnet group " + net.DBSubnetGroup)
			}
		})
	}
	if cfg.Recover.Cache != nil {
		wg.Go(func() {
			if _, err := c.cache.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{CacheSubnetGroupName: aws.String(net.CacheSubnetGroup)}); err != nil {
				miss("cache subnet group " + net.CacheSubnetGroup)
			}
		})
	}
	wg.Wait()
	sort.Strings(missing)
	return missing
}

// findExistingNetwork verifies a network the config names by ids or tags.
func findExistingNetwork(ctx context.Context, c networkClients, cfg *spec.Config) (Network, []string, error) {
	nc := cfg.Recover.Network
	var net Network
	var missing []string
	in := &ec2.DescribeVpcsInput{}
	if nc.VPC.ID != "" {
		in.VpcIds = []string{nc.VPC.ID}
	}
	for _, k := range slices.Sorted(maps.Keys(nc.VPC.Tag)) {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{nc.VPC.Tag[k]}})
	}
	out, err := c.ec2.DescribeVpcs(ctx, in)
	if err != nil && nc.VPC.ID == "" {
		return net, nil, fmt.Errorf("find vpc: %s: %w", c.region, err)
	}
	switch {
	case err != nil || len(out.Vpcs) == 0:
		missing = append(missing, fmt.Sprintf("vpc %v", selectorText(nc.VPC)))
	case len(out.Vpcs) > 1:
		return net, nil, fmt.Errorf("recover.network.vpc matches %d VPCs in %s; narrow the tags", len(out.Vpcs), c.region)
	default:
		net.VPC = aws.ToString(out.Vpcs[0].VpcId)
	}
	check := func(kind string, ids []string) []string {
		if len(ids) == 0 {
			missing = append(missing, "recover.network."+kind+" (subnet ids)")
			return nil
		}
		sn, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids})
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s %v: %v", kind, ids, err))
			return ids
		}
		for _, s := range sn.Subnets {
			if net.VPC != "" && aws.ToString(s.VpcId) != net.VPC {
				missing = append(missing, fmt.Sprintf("subnet %s is not in %s", aws.ToString(s.SubnetId), net.VPC))
			}
		}
		return ids
	}
	net.PublicSubnets = check("public_subnets", nc.PublicSubnets)
	net.AppSubnets = check("app_subnets", nc.AppSubnets)
	net.DBSubnets = check("db_subnets", nc.DBSubnets)
	sgs := nc.SecurityGroups
	for _, g := range []struct{ field, id string }{{"load_balancer", sgs.LoadBalancer}, {"app", sgs.App}, {"db", sgs.DB}} {
		if g.id == "" {
			missing = append(missing, "recover.network.security_groups."+g.field)
			continue
		}
		if _, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{g.id}}); err != nil {
			missing = append(missing, "security group "+g.id)
		}
	}
	net.LBSecurityGroup, net.AppSecurityGroup, net.DBSecurityGroup = sgs.LoadBalancer, sgs.App, sgs.DB
	net.DBSubnetGroup, net.CacheSubnetGroup = subnetGroupNames(cfg)
	missing = append(missing, checkSubnetGroups(ctx, c, cfg, net)...)
	return net, missing, nil
}

func selectorText(s spec.Selector) string {
	if s.ID != "" {
		return s.ID
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Tag)) {
		parts = append(parts, k+"="+s.Tag[k])
	}
	return "tagged " + strings.Join(parts, ",")
}

// ensureAppRouteTable makes the app subnets' route table with the S3
// gateway endpoint, and associates the app subnets with it.
func ensureAppRouteTable(ctx context.Context, c networkClients, cfg *spec.Config, net Network, ch *changes) (string, error) {
	rt, err := findOne(ctx, c, cfg.Stack, "app-rt")
	if err != nil {
		return "", err
	}
	if rt == "" && ch.would("create app route table") {
		rt = placeholder("app route table")
	}
	if rt == "" {
		out, err := c.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
			VpcId:             aws.String(net.VPC),
			TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeRouteTable, prepTags(cfg, "app-rt", cfg.Stack+"-dr-app")),
		})
		if err != nil {
			return "", fmt.Errorf("create app route table: %s: %w", c.region, err)
		}
		rt = aws.ToString(out.RouteTable.RouteTableId)
		ch.add("created app route table %s", rt)
	}
	associated, err := associatedSubnets(ctx, c, rt)
	if err != nil {
		return "", err
	}
	for _, s := range net.AppSubnets {
		if associated[s] || ch.would("associate app subnet %s with %s", s, rt) {
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
	if len(eps.VpcEndpoints) == 0 && !ch.would("create S3 gateway endpoint for the app subnets") {
		svc := "com.amazonaws." + c.region + ".s3"
		if _, err := c.ec2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcId: aws.String(net.VPC), ServiceName: aws.String(svc), VpcEndpointType: ec2types.VpcEndpointTypeGateway,
			RouteTableIds:     []string{rt},
			TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeVpcEndpoint, prepTags(cfg, "s3-endpoint", cfg.Stack+"-dr-s3")),
		}); err != nil {
			return "", fmt.Errorf("create S3 gateway endpoint %s: %w", svc, err)
		}
		ch.add("created S3 gateway endpoint for the app subnets")
	}
	return rt, nil
}

// associatedSubnets are the subnets associated with route table rt; none
// for the placeholder of one a dry run would create.
func associatedSubnets(ctx context.Context, c networkClients, rt string) (map[string]bool, error) {
	associated := map[string]bool{}
	if isPlaceholder(rt) {
		return associated, nil
	}
	desc, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rt}})
	if err != nil {
		return nil, fmt.Errorf("describe route table %s: %s: %w", rt, c.region, err)
	}
	for _, t := range desc.RouteTables {
		for _, a := range t.Associations {
			associated[aws.ToString(a.SubnetId)] = true
		}
	}
	return associated, nil
}

// Teardown deletes what `prepare` made, and only that: every piece
// is found by the stack's prepare tags. A VPC that holds anything pilotlight
// did not make is kept, and said so, rather than emptied.
func (networkKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	cfg := r.cfg
	c := r.c.network()
	n := newNames(cfg, "")
	var deleted, problems []string
	fail := func(what string, err error) { problems = append(problems, fmt.Sprintf("%s: %v", what, err)) }

	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords {
		store, err := stateStore(ctx, cfg, r.env)
		if err != nil {
			return nil, err
		}
		defer store.Close()
		if err := deleteFailoverRecords(ctx, r, d, store); err != nil {
			fail("failover records", err)
		} else {
			deleted = append(deleted, "failover records and health checks (the replaced record is back)")
		}
		if err := deletePinAlarm(ctx, r.c.pin(), cfg.Stack); err != nil {
			fail("failover pin alarm", err)
		}
	}
	out := runbook.Outputs{}
	if err := deleteLB(ctx, r, n.preparedLB(), n.preparedTG(), "prepare", out); err != nil {
		fail("DR load balancer", err)
	}
	// What still uses the role, groups or subnets keeps them (inuse.go).
	u, err := r.regionUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot tell what still uses the prepared network and app role, so nothing of them is deleted: %w", err)
	}
	if kept := u.of("instance-profile/" + n.appRole()); len(kept) > 0 {
		out["kept_app_role"] = strings.Join(kept, "; ")
	} else if err := deleteAppRole(ctx, r.c.iam, cfg); err != nil {
		fail("app role", err)
	}
	if d := cfg.Recover.Database; d == nil || d.SubnetGroup == "" {
		if _, err := c.rds.DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String(n.dbSubnetGroup())}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			fail("DB subnet group "+n.dbSubnetGroup(), err)
		}
	}
	if ca := cfg.Recover.Cache; ca == nil || ca.SubnetGroup == "" {
		if _, err := c.cache.DeleteCacheSubnetGroup(ctx, &elasticache.DeleteCacheSubnetGroupInput{CacheSubnetGroupName: aws.String(n.cacheSubnetGroup())}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			fail("cache subnet group "+n.cacheSubnetGroup(), err)
		}
	}
	vpc, err := findOne(ctx, c, cfg.Stack, "vpc")
	if err != nil {
		return nil, err
	}
	if vpc != "" {
		foreign, err := foreignInVPC(ctx, c, cfg.Stack, vpc)
		if err != nil {
			return nil, err
		}
		inUse, err := deleteNetworkPieces(ctx, c, cfg.Stack, vpc, u)
		if err != nil {
			fail("network", err)
		}
		if len(inUse) > 0 {
			out["kept_network"] = strings.Join(inUse, "; ")
		} else if len(foreign) > 0 {
			out["kept_vpc"] = vpc + " (holds resources pilotlight did not make: " + strings.Join(foreign, ", ") + ")"
		} else if _, err := c.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpc)}); err != nil {
			fail("vpc "+vpc, err)
		} else {
			deleted = append(deleted, "vpc "+vpc)
		}
	}
	out["deleted"] = strings.Join(deleted, ", ")
	if len(problems) > 0 {
		return out, fmt.Errorf("could not delete: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// foreignInVPC lists what in the VPC pilotlight did not make.
func foreignInVPC(ctx context.Context, c networkClients, stack, vpc string) ([]string, error) {
	var foreign []string
	inVPC := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
	mine := func(ts []ec2types.Tag) bool { return tags.Managed(tags.FromEC2(ts), stack) }
	sn, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: inVPC})
	if err != nil {
		return nil, fmt.Errorf("describe subnets of %s: %s: %w", vpc, c.region, err)
	}
	for _, s := range sn.Subnets {
		if !mine(s.Tags) {
			foreign = append(foreign, aws.ToString(s.SubnetId))
		}
	}
	sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: inVPC})
	if err != nil {
		return nil, fmt.Errorf("describe security groups of %s: %s: %w", vpc, c.region, err)
	}
	for _, g := range sgs.SecurityGroups {
		if aws.ToString(g.GroupName) != "default" && !mine(g.Tags) {
			foreign = append(foreign, aws.ToString(g.GroupId))
		}
	}
	inst, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: append(inVPC, ec2types.Filter{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}})})
	if err != nil {
		return nil, fmt.Errorf("describe instances of %s: %s: %w", vpc, c.region, err)
	}
	for _, res := range inst.Reservations {
		for _, i := range res.Instances {
			if !mine(i.Tags) {
				foreign = append(foreign, aws.ToString(i.InstanceId))
			}
		}
	}
	return foreign, nil
}

// deleteNetworkPieces deletes the prepared security groups, route table,
// subnets and internet gateway. Security groups reference each other, so
// their rules go first (moto would let a referenced group go; AWS would not).
func deleteNetworkPieces(ctx context.Context, c networkClients, stack, vpc string, u users) ([]string, error) {
	managed := []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{"prepare"}},
	}
	sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: managed})
	if err != nil {
		return nil, fmt.Errorf("describe security groups: %s: %w", c.region, err)
	}
	sn, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: managed})
	if err != nil {
		return nil, fmt.Errorf("describe subnets: %s: %w", c.region, err)
	}
	// One piece in use keeps the whole network: a group without its
	// subnets, or the reverse, serves nobody.
	var ids []string
	for _, g := range sgs.SecurityGroups {
		ids = append(ids, aws.ToString(g.GroupId))
	}
	for _, s := range sn.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	if inUse := u.of(ids...); len(inUse) > 0 {
		return inUse, nil
	}
	for _, g := range sgs.SecurityGroups {
		if len(g.IpPermissions) > 0 {
			if _, err := c.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissions}); err != nil {
				return nil, fmt.Errorf("revoke rules of %s: %s: %w", aws.ToString(g.GroupId), c.region, err)
			}
		}
	}
	for _, g := range sgs.SecurityGroups {
		if _, err := c.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId}); err != nil {
			return nil, fmt.Errorf("delete security group %s: %s: %w", aws.ToString(g.GroupId), c.region, err)
		}
	}
	eps, err := c.ec2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: managed})
	if err != nil {
		return nil, fmt.Errorf("describe VPC endpoints: %s: %w", c.region, err)
	}
	var epIDs []string
	for _, e := range eps.VpcEndpoints {
		epIDs = append(epIDs, aws.ToString(e.VpcEndpointId))
	}
	if len(epIDs) > 0 {
		if _, err := c.ec2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: epIDs}); err != nil {
			return nil, fmt.Errorf("delete VPC endpoints %v: %s: %w", epIDs, c.region, err)
		}
	}
	rts, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: managed})
	if err != nil {
		return nil, fmt.Errorf("describe route tables: %s: %w", c.region, err)
	}
	for _, rt := range rts.RouteTables {
		for _, a := range rt.Associations {
			if a.SubnetId != nil {
				if _, err := c.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); err != nil {
					return nil, fmt.Errorf("disassociate %s: %s: %w", aws.ToString(rt.RouteTableId), c.region, err)
				}
			}
		}
		if _, err := c.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rt.RouteTableId}); err != nil {
			return nil, fmt.Errorf("delete route table %s: %s: %w", aws.ToString(rt.RouteTableId), c.region, err)
		}
	}
	for _, s := range sn.Subnets {
		if _, err := c.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s.SubnetId}); err != nil {
			return nil, fmt.Errorf("delete subnet %s: %s: %w", aws.ToString(s.SubnetId), c.region, err)
		}
	}
	igws, err := c.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{managed[1], managed[2]}})
	if err != nil {
		return nil, fmt.Errorf("describe internet gateways: %s: %w", c.region, err)
	}
	for _, g := range igws.InternetGateways {
		for _, a := range g.Attachments {
			if _, err := c.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: g.InternetGatewayId, VpcId: a.VpcId}); err != nil {
				return nil, fmt.Errorf("detach %s: %s: %w", aws.ToString(g.InternetGatewayId), c.region, err)
			}
		}
		if _, err := c.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: g.InternetGatewayId}); err != nil {
			return nil, fmt.Errorf("delete %s: %s: %w", aws.ToString(g.InternetGatewayId), c.region, err)
		}
	}
	return nil, nil
}
