package discover

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Pairs are the region pairs the moto tests run in: aws with us-east-1
// (home of IAM and Route 53) as primary, and aws-cn with cn-northwest-1
// (home of Route 53 there) as primary.
var Pairs = []struct{ Primary, DR string }{
	{"us-east-1", "us-west-2"},
	{"cn-northwest-1", "cn-north-1"},
}

// Stack is what BuildStack made: the stack's resources, and the unrelated
// ones in another VPC that discovery must leave out.
type Stack struct {
	Primary, Partition string
	VPC, OtherVPC      string
	Cluster            string // Aurora cluster
	ClusterEndpoint    string
	ASG, LB, LBDNS     string
	Cache              string
	CacheEndpoint      string
	Bucket             string // named in the user-data
	PolicyBucket       string // named only in the instance role's policy
	Zone, Record       string

	OtherLB, OtherDB, OtherBucket, OtherCache, OtherInstance, OtherRecord string
	OtherASG                                                              string // only with BuildOptions.OtherApp
}

// BuildOptions vary the fixture.
type BuildOptions struct {
	// OtherApp puts an auto scaling group behind the unrelated load
	// balancer too, so that two stacks are equally plausible.
	OtherApp bool
}

// UserData is the stack's user-data as the seed's launch template renders
// it: endpoints, bucket and region written in, and a brace that must
// survive templating.
const UserData = `#!/bin/bash
set -euo pipefail
echo '{{ not a template }}' > /etc/motd
DB_HOST=%s
REDIS_HOST=%s
s3fs %s /var/www/media -o iam_role=auto,url=https://s3.%s.amazonaws.com
aws configure set region %s
`

// memberClusters records, per replication group ARN, the cache subnet
// group a test created it in. moto does not list a replication group's
// member clusters in DescribeCacheClusters (AWS does, with their subnet
// group), so CacheWithMembers adds them from here.
var memberClusters sync.Map

// CacheWithMembers wraps moto's ElastiCache client so that
// DescribeCacheClusters lists the member clusters of replication groups,
// as AWS does; moto lacks it (MOTO.md, ElastiCache).
type CacheWithMembers struct{ CacheAPI }

func (c CacheWithMembers) DescribeCacheClusters(ctx context.Context, in *elasticache.DescribeCacheClustersInput, opts ...func(*elasticache.Options)) (*elasticache.DescribeCacheClustersOutput, error) {
	out, err := c.CacheAPI.DescribeCacheClusters(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	rgs, err := c.CacheAPI.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{}, opts...)
	if err != nil {
		return nil, err
	}
	for _, rg := range rgs.ReplicationGroups {
		group, ok := memberClusters.Load(aws.ToString(rg.ARN))
		if !ok {
			continue
		}
		for _, m := range rg.MemberClusters {
			out.CacheClusters = append(out.CacheClusters, ectypes.CacheCluster{
				CacheClusterId: aws.String(m), ReplicationGroupId: rg.ReplicationGroupId,
				CacheSubnetGroupName: aws.String(group.(string)), Engine: rg.Engine, EngineVersion: aws.String("7.1"),
				CacheNodeType: rg.CacheNodeType, NumCacheNodes: aws.Int32(1),
			})
		}
	}
	return out, nil
}

// SimClients are the real clients for region with the ElastiCache
// simulation above.
func SimClients(env *awsenv.Env, region string) *Clients {
	c := NewClients(env, region)
	c.Cache = CacheWithMembers{c.Cache}
	return c
}

// must keeps the fixture readable; BuildStack turns its panic into a
// test failure.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ec2Tags(kind ec2types.ResourceType, kv ...string) []ec2types.TagSpecification {
	var tags []ec2types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, ec2types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: tags}}
}

// BuildStack makes, with the SDK, a stack as the seed's Terraform does (an
// Aurora MySQL cluster with one instance, an auto scaling group on a
// launch template behind an ALB, a Redis replication group, an S3 bucket
// named in the user-data, a Route 53 alias to the ALB) and, in another
// VPC, unrelated resources: another ALB, an RDS instance, a bucket, a
// Redis group, an instance. Stack resources carry stack=shop, the others
// stack=other.
func BuildStack(t testing.TB, env *awsenv.Env, primary string, o BuildOptions) *Stack {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("build stack in %s: %v", primary, r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, _ := partition.Of(primary)
	cfg := env.For(primary)
	e := ec2.NewFromConfig(cfg)
	s := &Stack{Primary: primary, Partition: p.ID}
	suffix := strings.ToLower(testenv.RandomAccountID()[6:])

	vpc := func(cidr, stack string, nets ...string) (string, []string) {
		v := must(e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr), TagSpecifications: ec2Tags(ec2types.ResourceTypeVpc, "stack", stack)}))
		id := aws.ToString(v.Vpc.VpcId)
		var subnets []string
		for i, n := range nets {
			sn := must(e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(id), CidrBlock: aws.String(n), AvailabilityZone: aws.String(primary + string(rune('a'+i)))}))
			subnets = append(subnets, aws.ToString(sn.Subnet.SubnetId))
		}
		return id, subnets
	}
	var subnets, otherSubnets []string
	s.VPC, subnets = vpc("10.0.0.0/16", "shop", "10.0.1.0/24", "10.0.2.0/24")
	s.OtherVPC, otherSubnets = vpc("10.9.0.0/16", "other", "10.9.1.0/24", "10.9.2.0/24")
	sg := must(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("shop-app"), Description: aws.String("app"), VpcId: aws.String(s.VPC)}))
	appSG := aws.ToString(sg.GroupId)

	// Databases.
	r := rds.NewFromConfig(cfg)
	rtag := func(stack string) []rdstypes.Tag {
		return []rdstypes.Tag{{Key: aws.String("stack"), Value: aws.String(stack)}}
	}
	must(r.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("shop-db"), DBSubnetGroupDescription: aws.String("shop"), SubnetIds: subnets}))
	must(r.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("other-db"), DBSubnetGroupDescription: aws.String("other"), SubnetIds: otherSubnets}))
	s.Cluster = "shop-aurora"
	cl := must(r.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(s.Cluster), Engine: aws.String("aurora-mysql"), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("password123"), DBSubnetGroupName: aws.String("shop-db"), Tags: rtag("shop"),
	}))
	s.ClusterEndpoint = aws.ToString(cl.DBCluster.Endpoint)
	must(r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("shop-aurora-1"), DBClusterIdentifier: aws.String(s.Cluster), Engine: aws.String("aurora-mysql"),
		DBInstanceClass: aws.String("db.r5.large"), Tags: rtag("shop"),
	}))
	s.OtherDB = "legacy-db"
	must(r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(s.OtherDB), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.medium"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
		DBSubnetGroupName: aws.String("other-db"), Tags: rtag("other"),
	}))

	// Caches.
	ec := elasticache.NewFromConfig(cfg)
	ctag := func(stack string) []ectypes.Tag {
		return []ectypes.Tag{{Key: aws.String("stack"), Value: aws.String(stack)}}
	}
	cache := func(id, group, stack string, nets []string) *ectypes.ReplicationGroup {
		must(ec.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{CacheSubnetGroupName: aws.String(group), CacheSubnetGroupDescription: aws.String(group), SubnetIds: nets}))
		out := must(ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1), CacheSubnetGroupName: aws.String(group), Tags: ctag(stack),
		}))
		memberClusters.Store(aws.ToString(out.ReplicationGroup.ARN), group)
		return out.ReplicationGroup
	}
	rg := cache("shop-redis", "shop-cache", "shop", subnets)
	s.Cache = "shop-redis"
	s.CacheEndpoint = aws.ToString(rg.NodeGroups[0].PrimaryEndpoint.Address)
	s.OtherCache = "other-redis"
	cache(s.OtherCache, "other-cache", "other", otherSubnets)

	// Buckets.
	s3c := env.S3(primary, 0)
	bucket := func(name, stack string) {
		in := &s3.CreateBucketInput{Bucket: aws.String(name)}
		if primary != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(primary)}
		}
		must(s3c.CreateBucket(ctx, in))
		must(s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("stack"), Value: aws.String(stack)}}}}))
	}
	s.Bucket, s.PolicyBucket, s.OtherBucket = "shop-media-"+suffix, "shop-uploads-"+suffix, "other-logs-"+suffix
	bucket(s.Bucket, "shop")
	bucket(s.PolicyBucket, "shop")
	bucket(s.OtherBucket, "other")

	// The instance role, whose policy names the uploads bucket.
	ic := iam.NewFromConfig(cfg)
	must(ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("shop-app-" + suffix), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + p.ServicePrincipal("ec2") + `"},"Action":"sts:AssumeRole"}]}`)}))
	must(ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("shop-app-" + suffix), PolicyName: aws.String("media"), PolicyDocument: aws.String(fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:%s:s3:::%s/*","arn:%s:s3:::%s"]},{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}]}`,
		p.ID, s.PolicyBucket, p.ID, s.PolicyBucket))}))
	must(ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("shop-app-" + suffix)}))
	must(ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("shop-app-" + suffix), RoleName: aws.String("shop-app-" + suffix)}))

	// The app: launch template, target group, ALB, listener, ASG.
	ud := fmt.Sprintf(UserData, s.ClusterEndpoint, s.CacheEndpoint, s.Bucket, primary, primary)
	lt := must(e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("shop-lt"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: ec2types.InstanceTypeT3Small, KeyName: aws.String("shop-key"),
			SecurityGroupIds: []string{appSG}, UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(ud))),
			IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("shop-app-" + suffix)},
		},
	}))
	lb := elb.NewFromConfig(cfg)
	etag := func(stack string) []elbtypes.Tag {
		return []elbtypes.Tag{{Key: aws.String("stack"), Value: aws.String(stack)}}
	}
	alb := func(name, vpcID, stack string, nets []string) (string, string, string) {
		tg := must(lb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(name + "-tg"), Protocol: elbtypes.ProtocolEnumHttp,
			Port: aws.Int32(80), VpcId: aws.String(vpcID), HealthCheckPath: aws.String("/health"), Tags: etag(stack)}))
		l := must(lb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(name), Subnets: nets, Tags: etag(stack)}))
		arn := aws.ToString(l.LoadBalancers[0].LoadBalancerArn)
		tgARN := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
		must(lb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(arn), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}}))
		return arn, aws.ToString(l.LoadBalancers[0].DNSName), tgARN
	}
	var tgARN, otherTG, otherDNS string
	s.LB, s.OtherLB = "shop-alb", "other-alb"
	_, s.LBDNS, tgARN = alb(s.LB, s.VPC, "shop", subnets)
	_, otherDNS, otherTG = alb(s.OtherLB, s.OtherVPC, "other", otherSubnets)
	as := autoscaling.NewFromConfig(cfg)
	s.ASG = "shop-asg"
	must(as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(s.ASG), MinSize: aws.Int32(1), DesiredCapacity: aws.Int32(2), MaxSize: aws.Int32(4),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		VPCZoneIdentifier: aws.String(strings.Join(subnets, ",")), TargetGroupARNs: []string{tgARN},
		Tags: []asgtypes.Tag{
			{Key: aws.String("Role"), Value: aws.String("shop-web"), PropagateAtLaunch: aws.Bool(true)},
			{Key: aws.String("stack"), Value: aws.String("shop"), PropagateAtLaunch: aws.Bool(true)},
		},
	}))
	if o.OtherApp {
		s.OtherASG = "other-asg"
		must(as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(s.OtherASG), MinSize: aws.Int32(1), DesiredCapacity: aws.Int32(1), MaxSize: aws.Int32(1),
			LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
			VPCZoneIdentifier: aws.String(strings.Join(otherSubnets, ",")), TargetGroupARNs: []string{otherTG},
			Tags: []asgtypes.Tag{{Key: aws.String("stack"), Value: aws.String("other"), PropagateAtLaunch: aws.Bool(true)}},
		}))
	}
	// A lone instance in the other VPC.
	in := must(e.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(otherSubnets[0]),
		TagSpecifications: ec2Tags(ec2types.ResourceTypeInstance, "stack", "other", "Role", "batch"),
	}))
	s.OtherInstance = aws.ToString(in.Instances[0].InstanceId)

	// DNS: an alias to the stack's ALB, a CNAME to the other one.
	r53 := route53.NewFromConfig(cfg)
	s.Zone = "shop-" + suffix + ".example.com"
	z := must(r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(s.Zone), CallerReference: aws.String(suffix)}))
	s.Record, s.OtherRecord = "www."+s.Zone, "batch."+s.Zone
	must(r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: z.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{
		{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(s.Record + "."), Type: r53types.RRTypeA,
			AliasTarget: &r53types.AliasTarget{DNSName: aws.String("dualstack." + s.LBDNS + "."), HostedZoneId: aws.String("Z35SXDOTRQ7X7K"), EvaluateTargetHealth: false}}},
		{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(s.OtherRecord + "."), Type: r53types.RRTypeCname,
			TTL: aws.Int64(300), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(otherDNS)}}}},
	}}}))
	return s
}

func testenvShared(t testing.TB) *testenv.Moto { return testenv.Shared(t) }

func testenvAWS(t testing.TB, url string) *awsenv.Env { return testenv.AWS(t, url) }
