package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// AMI is the image production's instances run. moto's RunInstances takes
// any id; this one is in the small catalogue testenv starts moto with, so
// DescribeImages finds it too.
const AMI = "ami-0a1b2c3d4e5f60001"

// Production is the simulated production environment: what the seed's
// Terraform (basic/, database/, app/) made in the primary region, and what
// the Route 53 zone held. It carries no pilotlight tags: it is the team's
// own stack, which pilotlight protects but never owns.
type Production struct {
	Region          string            `json:"region"`
	VPC             string            `json:"vpc"`
	PublicSubnets   []string          `json:"public_subnets"`
	AppSubnets      []string          `json:"app_subnets"`
	DBSubnets       []string          `json:"db_subnets"`
	InternetGateway string            `json:"internet_gateway"`
	PublicRoutes    string            `json:"public_route_table"`
	NATGateway      string            `json:"nat_gateway"`
	NATAddress      string            `json:"nat_eip_allocation"`
	SecurityGroups  map[string]string `json:"security_groups"`

	DBSubnetGroup string `json:"db_subnet_group"`
	DB            string `json:"db"`
	DBHost        string `json:"db_host"`
	DBPort        int    `json:"db_port"`
	// PasswordParameter is the SSM parameter holding the DB password, in
	// both regions, as the team keeps it.
	PasswordParameter string `json:"password_parameter,omitempty"`

	CacheSubnetGroup string `json:"cache_subnet_group"`
	Cache            string `json:"cache"`
	CacheHost        string `json:"cache_host"`
	CachePort        int    `json:"cache_port"`

	Role            string   `json:"instance_role"`
	LaunchTemplate  string   `json:"launch_template"`
	ASG             string   `json:"auto_scaling_group"`
	Instances       []string `json:"instances"`
	LoadBalancer    string   `json:"load_balancer_arn"`
	LoadBalancerDNS string   `json:"load_balancer_dns"`
	TargetGroup     string   `json:"target_group_arn"`

	Bucket     string `json:"bucket"`
	Objects    int    `json:"objects"`
	MediaBytes int64  `json:"media_bytes"`

	Zone   string `json:"zone_id"`
	Record string `json:"record"`
}

// names of the production resources: what a team would have called them.
const (
	prodName  = "wordpress-prod"
	prodALB   = "wordpress-prod-alb"
	prodRedis = "wordpress-prod-redis"
)

// BuildOptions shape production.
type BuildOptions struct {
	// Objects is the number of sample media files in the bucket (default 300).
	Objects int
	// Progress, when set, is told each part as it is built.
	Progress func(format string, args ...any)
	// DatabaseGB is the database's allocated storage (default 20, the
	// seed's); on AWS's clock, snapshots, copies and restores grow with it.
	DatabaseGB int
}

// BuildProduction makes the seed's production in cfg's primary region with
// the SDK, as its basic/, database/ and app/ did: the VPC 10.1.0.0/16 with
// public, app and db subnets in two AZs, internet and NAT gateways, the
// bastion/lb/app/db security groups, RDS MySQL, ElastiCache Redis, the
// instance role, a launch template, an auto scaling group behind an ALB,
// the S3 media bucket with sample uploads, the DB password in SSM Parameter
// Store (primary and DR), and the custom domain's record in Route 53. The
// returned Production holds every id, also when an error stops the build,
// so that what was made can be cleaned up.
func BuildProduction(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts BuildOptions) (*Production, error) {
	if opts.Objects <= 0 {
		opts.Objects = 300
	}
	if opts.DatabaseGB <= 0 {
		opts.DatabaseGB = productionDBGB
	}
	say := opts.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	if len(cfg.Protect.Databases) == 0 || len(cfg.Protect.Buckets) == 0 || cfg.Recover.App == nil || cfg.Recover.DNS == nil {
		return nil, errors.New("the demo's config must protect a database and a bucket and recover an app with DNS, as examples/wordpress does")
	}
	c := newClients(env, cfg.Primary.Region)
	p := &Production{Region: cfg.Primary.Region, SecurityGroups: map[string]string{}}
	b := &builder{c: c, cfg: cfg, p: p, dbGB: opts.DatabaseGB}
	steps := []struct {
		what string
		do   func(context.Context) error
	}{
		{"network (the seed's basic/): VPC 10.1.0.0/16, public/app/db subnets in 2 AZs, gateways, routes, security groups", b.network},
		{"RDS MySQL " + cfg.Protect.Databases[0].ID + " and ElastiCache Redis (the seed's database/ and app/)", b.data},
		{fmt.Sprintf("S3 media bucket %s with %d sample uploads", cfg.Protect.Buckets[0].Source, opts.Objects), func(ctx context.Context) error { return b.media(ctx, opts.Objects) }},
		{"WordPress: instance role, launch template, auto scaling group behind an ALB", b.app},
		{"Route 53 zone " + cfg.Recover.DNS.Zone + " with " + cfg.Recover.DNS.Record + " -> the production ALB", b.dns},
	}
	for _, s := range steps {
		say("%s", s.what)
		if err := s.do(ctx); err != nil {
			return p, fmt.Errorf("build production: %w", err)
		}
	}
	return p, nil
}

type builder struct {
	c    *clients
	cfg  *spec.Config
	p    *Production
	dbGB int
}

// nameTags are what the seed's terraform puts on production: Name,
// Environment, and extra key, value pairs.
func nameTags(kind ec2types.ResourceType, name string, extra ...string) []ec2types.TagSpecification {
	m := map[string]string{"Name": name, "Environment": "production"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return tags.EC2Spec(kind, m)
}

func (b *builder) network(ctx context.Context) error {
	c, p, region := b.c, b.p, b.p.Region
	azs, err := c.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return fmt.Errorf("describe availability zones: %s: %w", region, err)
	}
	var zones []string
	for _, z := range azs.AvailabilityZones {
		zones = append(zones, aws.ToString(z.ZoneName))
	}
	sort.Strings(zones)
	if len(zones) < 2 {
		return fmt.Errorf("%s has %d availability zones; the seed's network needs 2", region, len(zones))
	}
	zones = zones[:2]
	vpc, err := c.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16"), TagSpecifications: nameTags(ec2types.ResourceTypeVpc, prodName)})
	if err != nil {
		return fmt.Errorf("create vpc 10.1.0.0/16: %s: %w", region, err)
	}
	p.VPC = aws.ToString(vpc.Vpc.VpcId)
	for _, attr := range []*ec2.ModifyVpcAttributeInput{
		{VpcId: vpc.Vpc.VpcId, EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}},
		{VpcId: vpc.Vpc.VpcId, EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}},
	} {
		if _, err := c.ec2.ModifyVpcAttribute(ctx, attr); err != nil {
			return fmt.Errorf("enable DNS on %s: %s: %w", p.VPC, region, err)
		}
	}
	igw, err := c.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: nameTags(ec2types.ResourceTypeInternetGateway, prodName)})
	if err != nil {
		return fmt.Errorf("create internet gateway: %s: %w", region, err)
	}
	p.InternetGateway = aws.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := c.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(p.InternetGateway), VpcId: aws.String(p.VPC)}); err != nil {
		return fmt.Errorf("attach %s to %s: %s: %w", p.InternetGateway, p.VPC, region, err)
	}
	// cidrsubnet(10.1.0.0/16, 8, i): public i, app i+100, db i+200, as the seed.
	tiers := []struct {
		tier   string
		offset int
		into   *[]string
	}{{"public", 0, &p.PublicSubnets}, {"app", 100, &p.AppSubnets}, {"db", 200, &p.DBSubnets}}
	for _, t := range tiers {
		for i, az := range zones {
			cidr := fmt.Sprintf("10.1.%d.0/24", t.offset+i)
			sn, err := c.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
				VpcId: aws.String(p.VPC), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az),
				TagSpecifications: nameTags(ec2types.ResourceTypeSubnet, fmt.Sprintf("%s-%s-%d", prodName, t.tier, i)),
			})
			if err != nil {
				return fmt.Errorf("create %s subnet %s: %s: %w", t.tier, cidr, region, err)
			}
			*t.into = append(*t.into, aws.ToString(sn.Subnet.SubnetId))
			if t.tier == "public" {
				if _, err := c.ec2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: sn.Subnet.SubnetId, MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
					return fmt.Errorf("public IPs on %s: %s: %w", aws.ToString(sn.Subnet.SubnetId), region, err)
				}
			}
		}
	}
	rt, err := c.ec2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(p.VPC), TagSpecifications: nameTags(ec2types.ResourceTypeRouteTable, prodName+"-public")})
	if err != nil {
		return fmt.Errorf("create public route table: %s: %w", region, err)
	}
	p.PublicRoutes = aws.ToString(rt.RouteTable.RouteTableId)
	if _, err := c.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(p.PublicRoutes), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(p.InternetGateway)}); err != nil {
		return fmt.Errorf("route 0.0.0.0/0 to %s: %s: %w", p.InternetGateway, region, err)
	}
	for _, sn := range p.PublicSubnets {
		if _, err := c.ec2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(p.PublicRoutes), SubnetId: aws.String(sn)}); err != nil {
			return fmt.Errorf("associate %s with %s: %s: %w", sn, p.PublicRoutes, region, err)
		}
	}
	if err := b.nat(ctx); err != nil {
		return err
	}
	return b.securityGroups(ctx)
}

// nat gives the private subnets a way out, as the seed's app/ did: one NAT
// gateway in the first public subnet, routed from the VPC's main table.
func (b *builder) nat(ctx context.Context) error {
	c, p, region := b.c, b.p, b.p.Region
	eip, err := c.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc, TagSpecifications: nameTags(ec2types.ResourceTypeElasticIp, prodName+"-nat")})
	if err != nil {
		return fmt.Errorf("allocate the NAT gateway's address: %s: %w", region, err)
	}
	p.NATAddress = aws.ToString(eip.AllocationId)
	nat, err := c.ec2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(p.PublicSubnets[0]), AllocationId: eip.AllocationId, TagSpecifications: nameTags(ec2types.ResourceTypeNatgateway, prodName)})
	if err != nil {
		return fmt.Errorf("create NAT gateway in %s: %s: %w", p.PublicSubnets[0], region, err)
	}
	p.NATGateway = aws.ToString(nat.NatGateway.NatGatewayId)
	w := ec2.NewNatGatewayAvailableWaiter(c.ec2, func(o *ec2.NatGatewayAvailableWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
	if err := w.Wait(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{p.NATGateway}}, waitLong); err != nil {
		return fmt.Errorf("wait for NAT gateway %s: %s: %w", p.NATGateway, region, err)
	}
	main, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{p.VPC}}, {Name: aws.String("association.main"), Values: []string{"true"}},
	}})
	if err != nil || len(main.RouteTables) == 0 {
		return fmt.Errorf("find the main route table of %s: %s: %v", p.VPC, region, err)
	}
	if _, err := c.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: main.RouteTables[0].RouteTableId, DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String(p.NATGateway)}); err != nil {
		return fmt.Errorf("route the private subnets through %s: %s: %w", p.NATGateway, region, err)
	}
	return nil
}

// securityGroups are the seed's four: bastion (22 from anywhere), load
// balancer (80 and 443 from anywhere), app (everything from the load
// balancer and itself, 22 from the bastion), db (3306 and 6379 from app).
func (b *builder) securityGroups(ctx context.Context) error {
	c, p, region := b.c, b.p, b.p.Region
	for _, role := range []string{"bastion", "lb", "app", "db"} {
		name := prodName + "-" + role
		sg, err := c.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(name), Description: aws.String("WordPress production " + role), VpcId: aws.String(p.VPC),
			TagSpecifications: nameTags(ec2types.ResourceTypeSecurityGroup, name),
		})
		if err != nil {
			return fmt.Errorf("create security group %s: %s: %w", name, region, err)
		}
		p.SecurityGroups[role] = aws.ToString(sg.GroupId)
	}
	sg := p.SecurityGroups
	anywhere := []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}
	from := func(group string) []ec2types.UserIdGroupPair {
		return []ec2types.UserIdGroupPair{{GroupId: aws.String(sg[group])}}
	}
	tcp := func(port int32) (*string, *int32, *int32) { return aws.String("tcp"), aws.Int32(port), aws.Int32(port) }
	perm := func(port int32, ranges []ec2types.IpRange, groups []ec2types.UserIdGroupPair) ec2types.IpPermission {
		proto, lo, hi := tcp(port)
		return ec2types.IpPermission{IpProtocol: proto, FromPort: lo, ToPort: hi, IpRanges: ranges, UserIdGroupPairs: groups}
	}
	all := func(groups []ec2types.UserIdGroupPair) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String("-1"), UserIdGroupPairs: groups}
	}
	rules := map[string][]ec2types.IpPermission{
		"bastion": {perm(22, anywhere, nil)},
		"lb":      {perm(80, anywhere, nil), perm(443, anywhere, nil)},
		"app":     {all(from("lb")), all(from("app")), perm(22, nil, from("bastion"))},
		"db":      {perm(3306, nil, from("app")), perm(6379, nil, from("app"))},
	}
	for _, role := range []string{"bastion", "lb", "app", "db"} {
		if _, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg[role]), IpPermissions: rules[role]}); err != nil {
			return fmt.Errorf("rules of %s: %s: %w", sg[role], region, err)
		}
	}
	return nil
}

// data makes the database and the cache, with the password kept where the
// recovered app reads it: SSM Parameter Store, in both regions.
func (b *builder) data(ctx context.Context) error {
	c, p, cfg, region := b.c, b.p, b.cfg, b.p.Region
	p.DBSubnetGroup = prodName + "-db"
	if _, err := c.rds.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{
		DBSubnetGroupName: aws.String(p.DBSubnetGroup), DBSubnetGroupDescription: aws.String("WordPress production database"), SubnetIds: p.DBSubnets,
	}); err != nil {
		return fmt.Errorf("create DB subnet group %s: %s: %w", p.DBSubnetGroup, region, err)
	}
	password, err := newPassword()
	if err != nil {
		return err
	}
	user := cfg.Recover.App.Vars["db_user"]
	dbName := cfg.Recover.App.Vars["db_name"]
	if user == "" || dbName == "" {
		return errors.New("recover.app.vars must name db_user and db_name, as examples/wordpress does")
	}
	p.DB = cfg.Protect.Databases[0].ID
	// The seed ran MySQL 5.6 on db.r4.large, both retired from RDS since;
	// this is the same single-AZ, unencrypted, 20 GB gp2 database today.
	if _, err := c.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(p.DB), Engine: aws.String("mysql"), EngineVersion: aws.String("8.0.40"),
		DBInstanceClass: aws.String("db.r5.large"), AllocatedStorage: aws.Int32(int32(b.dbGB)), StorageType: aws.String("gp2"),
		MasterUsername: aws.String(user), MasterUserPassword: aws.String(password), DBName: aws.String(dbName),
		DBSubnetGroupName: aws.String(p.DBSubnetGroup), VpcSecurityGroupIds: []string{p.SecurityGroups["db"]},
		PubliclyAccessible: aws.Bool(false), StorageEncrypted: aws.Bool(false), MultiAZ: aws.Bool(false),
		BackupRetentionPeriod: aws.Int32(2),
	}); err != nil {
		return fmt.Errorf("create DB instance %s: %s: %w", p.DB, region, err)
	}
	if param := cfg.Recover.App.Vars["db_password_parameter"]; param != "" {
		// The team keeps the secret in both regions ahead of time: in a
		// disaster the primary's Parameter Store is gone with it.
		for _, r := range []string{cfg.Primary.Region, cfg.DR.Region} {
			if _, err := newClients(b.c.env, r).ssm.PutParameter(ctx, &ssm.PutParameterInput{
				Name: aws.String(param), Value: aws.String(password), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
				Description: aws.String("WordPress database password"),
			}); err != nil {
				return fmt.Errorf("put parameter %s: %s: %w", param, r, err)
			}
		}
		p.PasswordParameter = param
	}
	p.CacheSubnetGroup = prodName + "-cache"
	if _, err := c.cache.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{
		CacheSubnetGroupName: aws.String(p.CacheSubnetGroup), CacheSubnetGroupDescription: aws.String("WordPress production cache"), SubnetIds: p.DBSubnets,
	}); err != nil {
		return fmt.Errorf("create cache subnet group %s: %s: %w", p.CacheSubnetGroup, region, err)
	}
	nodeType := "cache.t3.small"
	if cfg.Recover.Cache != nil {
		nodeType = cfg.Recover.Cache.NodeType
	}
	p.Cache = prodRedis
	// One Redis node, as the seed's aws_elasticache_cluster; made as a
	// one-node replication group (cluster mode off), today's form of it and
	// the one whose endpoint moto reports. Redis is a cache: nothing of it
	// is copied to the DR region.
	if _, err := c.cache.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(p.Cache), ReplicationGroupDescription: aws.String("WordPress object cache"),
		Engine: aws.String("redis"), EngineVersion: aws.String("7.1"), CacheNodeType: aws.String(nodeType), NumCacheClusters: aws.Int32(1),
		CacheSubnetGroupName: aws.String(p.CacheSubnetGroup), SecurityGroupIds: []string{p.SecurityGroups["db"]},
	}); err != nil {
		return fmt.Errorf("create cache %s: %s: %w", p.Cache, region, err)
	}
	dbw := rds.NewDBInstanceAvailableWaiter(c.rds, func(o *rds.DBInstanceAvailableWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
	db, err := dbw.WaitForOutput(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(p.DB)}, waitLong)
	if err != nil {
		return fmt.Errorf("wait for DB instance %s: %s: %w", p.DB, region, err)
	}
	if ep := db.DBInstances[0].Endpoint; ep != nil {
		p.DBHost, p.DBPort = aws.ToString(ep.Address), int(aws.ToInt32(ep.Port))
	}
	cw := elasticache.NewReplicationGroupAvailableWaiter(c.cache, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
	rg, err := cw.WaitForOutput(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(p.Cache)}, waitLong)
	if err != nil {
		return fmt.Errorf("wait for cache %s: %s: %w", p.Cache, region, err)
	}
	if ngs := rg.ReplicationGroups[0].NodeGroups; len(ngs) > 0 && ngs[0].PrimaryEndpoint != nil {
		p.CacheHost, p.CachePort = aws.ToString(ngs[0].PrimaryEndpoint.Address), int(aws.ToInt32(ngs[0].PrimaryEndpoint.Port))
	}
	if p.DBHost == "" || p.CacheHost == "" {
		return fmt.Errorf("the emulator gave no endpoint for DB %s (%q) or cache %s (%q)", p.DB, p.DBHost, p.Cache, p.CacheHost)
	}
	return nil
}

func newPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate the DB password: %w", err)
	}
	out := make([]byte, len(raw))
	for i, r := range raw {
		out[i] = alphabet[int(r)%len(alphabet)]
	}
	return string(out), nil
}

func (b *builder) media(ctx context.Context, n int) error {
	c, p, region := b.c, b.p, b.p.Region
	p.Bucket = b.cfg.Protect.Buckets[0].Source
	in := &s3.CreateBucketInput{Bucket: aws.String(p.Bucket)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := c.s3.CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("create bucket %s: %s: %w", p.Bucket, region, err)
	}
	objs := sampleMedia(n)
	written, err := putMedia(ctx, c.s3, p.Bucket, objs)
	p.Objects, p.MediaBytes = len(objs), written
	return err
}

// app is the seed's app/: the instances' role (S3 on the media bucket), a
// launch template whose user-data is the example's template rendered with
// production's endpoints, and an auto scaling group behind an ALB.
func (b *builder) app(ctx context.Context) error {
	c, p, cfg, region := b.c, b.p, b.cfg, b.p.Region
	part, err := partition.Of(region)
	if err != nil {
		return err
	}
	p.Role = prodName + "-app"
	trust, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{
		"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]any{"Service": part.ServicePrincipal("ec2")},
	}}})
	statements := []map[string]any{
		{"Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation"}, "Resource": part.ARN("s3", "", "", p.Bucket)},
		{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, "Resource": part.ARN("s3", "", "", p.Bucket+"/*")},
	}
	if p.PasswordParameter != "" {
		statements = append(statements, map[string]any{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": part.ARN("ssm", region, "*", "parameter"+p.PasswordParameter)})
	}
	media, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if _, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(p.Role), AssumeRolePolicyDocument: aws.String(string(trust))}); err != nil {
		return fmt.Errorf("create role %s: %w", p.Role, err)
	}
	if _, err := c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(p.Role), PolicyName: aws.String("media"), PolicyDocument: aws.String(string(media))}); err != nil {
		return fmt.Errorf("put policy on role %s: %w", p.Role, err)
	}
	if _, err := c.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(p.Role)}); err != nil {
		return fmt.Errorf("create instance profile %s: %w", p.Role, err)
	}
	if _, err := c.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(p.Role), RoleName: aws.String(p.Role)}); err != nil {
		return fmt.Errorf("add role %s to its instance profile: %w", p.Role, err)
	}
	ud, err := productionUserData(cfg, p)
	if err != nil {
		return err
	}
	a := cfg.Recover.App
	lt, err := c.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(prodName),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(AMI), InstanceType: ec2types.InstanceType(a.InstanceType),
			SecurityGroupIds:   []string{p.SecurityGroups["app"]},
			IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(p.Role)},
			UserData:           aws.String(base64.StdEncoding.EncodeToString([]byte(ud))),
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{
				ResourceType: ec2types.ResourceTypeInstance,
				Tags:         nameTags(ec2types.ResourceTypeInstance, prodName, "Role", "wordpress")[0].Tags,
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("create launch template %s: %s: %w", prodName, region, err)
	}
	p.LaunchTemplate = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	tg, err := c.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(prodName), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(p.VPC),
		TargetType: elbtypes.TargetTypeEnumInstance, HealthCheckPath: aws.String(a.LoadBalancer.HealthCheckPath),
	})
	if err != nil {
		return fmt.Errorf("create target group %s: %s: %w", prodName, region, err)
	}
	p.TargetGroup = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	lb, err := c.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String(prodALB), Subnets: p.PublicSubnets, SecurityGroups: []string{p.SecurityGroups["lb"]},
		Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Type: elbtypes.LoadBalancerTypeEnumApplication,
	})
	if err != nil {
		return fmt.Errorf("create load balancer %s: %s: %w", prodALB, region, err)
	}
	p.LoadBalancer, p.LoadBalancerDNS = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn), aws.ToString(lb.LoadBalancers[0].DNSName)
	if _, err := c.elb.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(p.LoadBalancer), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(a.LoadBalancer.Port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(p.TargetGroup)}},
	}); err != nil {
		return fmt.Errorf("create listener on %s: %s: %w", prodALB, region, err)
	}
	p.ASG = prodName
	// min 1 / desired 2 / max 20 with ELB health checks, as the seed.
	// The profile was made moments ago: wait out IAM's propagation as
	// the product does.
	if err := recovery.RetryIAMPropagation(ctx, func(ctx context.Context) error {
		_, err := c.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(p.ASG),
			LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(p.LaunchTemplate), Version: aws.String("$Latest")},
			MinSize:              aws.Int32(1), DesiredCapacity: aws.Int32(2), MaxSize: aws.Int32(20),
			VPCZoneIdentifier: aws.String(strings.Join(p.AppSubnets, ",")), TargetGroupARNs: []string{p.TargetGroup},
			HealthCheckType: aws.String("ELB"), HealthCheckGracePeriod: aws.Int32(300),
			Tags: []asgtypes.Tag{
				{Key: aws.String("Name"), Value: aws.String(prodName), PropagateAtLaunch: aws.Bool(true)},
				{Key: aws.String("Role"), Value: aws.String("wordpress"), PropagateAtLaunch: aws.Bool(true)},
			},
		})
		return err
	}); err != nil {
		return fmt.Errorf("create auto scaling group %s: %s: %w", p.ASG, region, err)
	}
	return b.waitInService(ctx, 2)
}

// waitInService polls until the group's instances are in service and
// healthy behind the load balancer.
func (b *builder) waitInService(ctx context.Context, want int) error {
	c, p := b.c, b.p
	return poll(ctx, "auto scaling group "+p.ASG+" in "+p.Region, func(ctx context.Context) (bool, error) {
		g, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{p.ASG}})
		if err != nil || len(g.AutoScalingGroups) == 0 {
			return false, err
		}
		p.Instances = p.Instances[:0]
		for _, in := range g.AutoScalingGroups[0].Instances {
			if in.LifecycleState == asgtypes.LifecycleStateInService {
				p.Instances = append(p.Instances, aws.ToString(in.InstanceId))
			}
		}
		h, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(p.TargetGroup)})
		if err != nil {
			return false, err
		}
		healthy := 0
		for _, d := range h.TargetHealthDescriptions {
			if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				healthy++
			}
		}
		return len(p.Instances) >= want && healthy >= want, nil
	})
}

// productionUserData renders the example's template for production: its
// own database, cache and bucket in the primary region. The DR instances
// get the same template with the recovered endpoints.
func productionUserData(cfg *spec.Config, p *Production) (string, error) {
	prod := *cfg
	prod.Protect.Buckets = append([]spec.Bucket(nil), cfg.Protect.Buckets...)
	for i := range prod.Protect.Buckets {
		prod.Protect.Buckets[i].Replica = prod.Protect.Buckets[i].Source
	}
	return recovery.RenderUserData(&prod, recovery.Endpoints{
		DBHost: p.DBHost, DBPort: p.DBPort, CacheHost: p.CacheHost, CachePort: p.CachePort, Region: p.Region,
	})
}

// dns is what the team did by hand in the seed: the custom domain in a
// Route 53 zone, pointing at the production ALB.
func (b *builder) dns(ctx context.Context) error {
	c, p, d := b.c, b.p, b.cfg.Recover.DNS
	zone, err := c.r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String(d.Zone), CallerReference: aws.String(fmt.Sprintf("wordpress-%d", time.Now().UnixNano())),
	})
	if err != nil {
		return fmt.Errorf("create hosted zone %s: %w", d.Zone, err)
	}
	p.Zone = strings.TrimPrefix(aws.ToString(zone.HostedZone.Id), "/hostedzone/")
	p.Record = d.Record
	albZone, err := recovery.ALBZone(p.Region)
	if err != nil {
		return err
	}
	ch, err := c.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(p.Zone),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
			Action: r53types.ChangeActionUpsert,
			ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(strings.TrimSuffix(d.Record, ".") + "."), Type: r53types.RRTypeA,
				AliasTarget: &r53types.AliasTarget{DNSName: aws.String(p.LoadBalancerDNS), HostedZoneId: aws.String(albZone), EvaluateTargetHealth: true},
			},
		}}},
	})
	if err != nil {
		return fmt.Errorf("point %s at %s: %w", d.Record, p.LoadBalancerDNS, err)
	}
	w := route53.NewResourceRecordSetsChangedWaiter(c.r53, func(o *route53.ResourceRecordSetsChangedWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
	if err := w.Wait(ctx, &route53.GetChangeInput{Id: ch.ChangeInfo.Id}, waitLong); err != nil {
		return fmt.Errorf("wait for %s to be in sync: %w", d.Record, err)
	}
	return nil
}
