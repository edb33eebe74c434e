package demo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Leftover is one resource still present after the demo cleaned up.
type Leftover struct {
	Region string `json:"region"` // "global" for IAM, Route 53 and the S3 bucket list
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	// DeleteAction is the API call that would delete it, to tell an
	// emulator's missing action from a real leftover.
	DeleteAction string `json:"-"`
}

func (l Leftover) String() string { return l.Region + ": " + l.Kind + " " + l.ID }

// Leftovers lists every resource in both regions (and the global services)
// of the account the demo worked in, beyond what a fresh account holds:
// the default VPC and its parts, default groups. It is the proof that the
// demo left nothing behind; it reads only.
func Leftovers(ctx context.Context, env *awsenv.Env, cfg *spec.Config) ([]Leftover, error) {
	var out []Leftover
	for _, region := range []string{cfg.Primary.Region, cfg.DR.Region} {
		got, err := regionLeftovers(ctx, env, newClients(env, region))
		if err != nil {
			return out, err
		}
		out = append(out, got...)
	}
	got, err := globalLeftovers(ctx, newClients(env, cfg.DR.Region))
	return append(out, got...), err
}

func regionLeftovers(ctx context.Context, env *awsenv.Env, c *clients) ([]Leftover, error) {
	var out []Leftover
	add := func(kind, id, action string) {
		out = append(out, Leftover{Region: c.region, Kind: kind, ID: id, DeleteAction: action})
	}
	fail := func(what string, err error) ([]Leftover, error) {
		return out, fmt.Errorf("list %s: %s: %w", what, c.region, err)
	}
	vpcs, err := c.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		return fail("VPCs", err)
	}
	defaultVPC := ""
	for _, v := range vpcs.Vpcs {
		if aws.ToBool(v.IsDefault) {
			defaultVPC = aws.ToString(v.VpcId)
			continue
		}
		add("vpc", aws.ToString(v.VpcId), "DeleteVpc")
	}
	igws, err := c.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{})
	if err != nil {
		return fail("internet gateways", err)
	}
	for _, g := range igws.InternetGateways {
		if len(g.Attachments) == 1 && aws.ToString(g.Attachments[0].VpcId) == defaultVPC {
			continue
		}
		add("internet gateway", aws.ToString(g.InternetGatewayId), "DeleteInternetGateway")
	}
	inst, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}})
	if err != nil {
		return fail("instances", err)
	}
	for _, r := range inst.Reservations {
		for _, i := range r.Instances {
			add("instance", aws.ToString(i.InstanceId), "TerminateInstances")
		}
	}
	nats, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
	if err != nil {
		return fail("NAT gateways", err)
	}
	for _, n := range nats.NatGateways {
		if n.State != ec2types.NatGatewayStateDeleted && n.State != ec2types.NatGatewayStateDeleting {
			add("NAT gateway", aws.ToString(n.NatGatewayId), "DeleteNatGateway")
		}
	}
	eips, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return fail("addresses", err)
	}
	for _, a := range eips.Addresses {
		add("elastic IP", aws.ToString(a.AllocationId), "ReleaseAddress")
	}
	imgs, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		return fail("images", err)
	}
	for _, im := range imgs.Images {
		add("image", aws.ToString(im.ImageId), "DeregisterImage")
	}
	acct, err := env.Account(ctx, c.region)
	if err != nil {
		return out, err
	}
	snaps, err := c.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		return fail("snapshots", err)
	}
	for _, s := range snaps.Snapshots {
		if aws.ToString(s.OwnerId) == acct {
			add("EBS snapshot", aws.ToString(s.SnapshotId), "DeleteSnapshot")
		}
	}
	lts, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		return fail("launch templates", err)
	}
	for _, lt := range lts.LaunchTemplates {
		add("launch template", aws.ToString(lt.LaunchTemplateName), "DeleteLaunchTemplate")
	}
	dbs, err := c.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		return fail("DB instances", err)
	}
	for _, d := range dbs.DBInstances {
		add("DB instance", aws.ToString(d.DBInstanceIdentifier), "DeleteDBInstance")
	}
	dsnaps, err := c.rds.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	if err != nil {
		return fail("DB snapshots", err)
	}
	for _, s := range dsnaps.DBSnapshots {
		add("DB snapshot", aws.ToString(s.DBSnapshotIdentifier), "DeleteDBSnapshot")
	}
	dsg, err := c.rds.DescribeDBSubnetGroups(ctx, &rds.DescribeDBSubnetGroupsInput{})
	if err != nil {
		return fail("DB subnet groups", err)
	}
	for _, g := range dsg.DBSubnetGroups {
		if aws.ToString(g.DBSubnetGroupName) != "default" {
			add("DB subnet group", aws.ToString(g.DBSubnetGroupName), "DeleteDBSubnetGroup")
		}
	}
	ccs, err := c.cache.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil {
		return fail("cache clusters", err)
	}
	for _, cc := range ccs.CacheClusters {
		// `deleting` is gone for every purpose (moto keeps it so for ever).
		if aws.ToString(cc.CacheClusterStatus) != "deleting" {
			add("cache cluster", aws.ToString(cc.CacheClusterId), "DeleteCacheCluster")
		}
	}
	rgs, err := c.cache.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil {
		return fail("replication groups", err)
	}
	for _, rg := range rgs.ReplicationGroups {
		if aws.ToString(rg.Status) != "deleting" {
			add("cache replication group", aws.ToString(rg.ReplicationGroupId), "DeleteReplicationGroup")
		}
	}
	csg, err := c.cache.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{})
	if err != nil {
		return fail("cache subnet groups", err)
	}
	for _, g := range csg.CacheSubnetGroups {
		if aws.ToString(g.CacheSubnetGroupName) != "default" {
			add("cache subnet group", aws.ToString(g.CacheSubnetGroupName), "DeleteCacheSubnetGroup")
		}
	}
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		return fail("load balancers", err)
	}
	for _, lb := range lbs.LoadBalancers {
		add("load balancer", aws.ToString(lb.LoadBalancerName), "DeleteLoadBalancer")
	}
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if err != nil {
		return fail("target groups", err)
	}
	for _, tg := range tgs.TargetGroups {
		add("target group", aws.ToString(tg.TargetGroupName), "DeleteTargetGroup")
	}
	asgs, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		return fail("auto scaling groups", err)
	}
	for _, g := range asgs.AutoScalingGroups {
		add("auto scaling group", aws.ToString(g.AutoScalingGroupName), "DeleteAutoScalingGroup")
	}
	params, err := c.ssm.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	if err != nil {
		return fail("parameters", err)
	}
	for _, p := range params.Parameters {
		add("parameter", aws.ToString(p.Name), "DeleteParameter")
	}
	return out, nil
}

func globalLeftovers(ctx context.Context, c *clients) ([]Leftover, error) {
	var out []Leftover
	add := func(kind, id, action string) {
		out = append(out, Leftover{Region: "global", Kind: kind, ID: id, DeleteAction: action})
	}
	buckets, err := c.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return out, fmt.Errorf("list buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		add("bucket", aws.ToString(b.Name), "DeleteBucket")
	}
	zones, err := c.r53.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil {
		return out, fmt.Errorf("list hosted zones: %w", err)
	}
	for _, z := range zones.HostedZones {
		add("hosted zone", aws.ToString(z.Name), "DeleteHostedZone")
	}
	hcs, err := c.r53.ListHealthChecks(ctx, &route53.ListHealthChecksInput{})
	if err != nil {
		return out, fmt.Errorf("list health checks: %w", err)
	}
	for _, h := range hcs.HealthChecks {
		add("health check", aws.ToString(h.Id), "DeleteHealthCheck")
	}
	roles, err := c.iam.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return out, fmt.Errorf("list roles: %w", err)
	}
	for _, r := range roles.Roles {
		add("IAM role", aws.ToString(r.RoleName), "DeleteRole")
	}
	profiles, err := c.iam.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{})
	if err != nil {
		return out, fmt.Errorf("list instance profiles: %w", err)
	}
	for _, p := range profiles.InstanceProfiles {
		add("instance profile", aws.ToString(p.InstanceProfileName), "DeleteInstanceProfile")
	}
	return out, nil
}
