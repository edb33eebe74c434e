package emulator_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/emulator"
)

// realTime runs the clock at AWS's own pace: tests reach each state with
// Advance, so a slow machine cannot skip one.
var realTime = emulator.ClockOptions{Minute: time.Minute}

const baseAMI = "ami-0a1b2c3d4e5f60001" // in the small catalogue moto starts with

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestClockCopiedAMIIsNotFoundThenPendingThenAvailable(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	src, dr := ec2.NewFromConfig(env.For("us-east-1")), ec2.NewFromConfig(env.For("us-west-2"))
	run, err := src.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(baseAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	img, err := src.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("app"), NoReboot: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	state := func(api *ec2.Client, id string) (string, error) {
		out, err := api.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil {
			return "", err
		}
		if len(out.Images) != 1 {
			t.Fatalf("describe %s: %d images", id, len(out.Images))
		}
		return string(out.Images[0].State), nil
	}
	if st, err := state(src, *img.ImageId); st != "pending" || err != nil {
		t.Fatalf("new AMI: %s %v", st, err)
	}
	k.Advance(k.Durations().Image.For(15))
	if st, err := state(src, *img.ImageId); st != "available" || err != nil {
		t.Fatalf("AMI after its time: %s %v", st, err)
	}

	cp, err := dr.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: img.ImageId, SourceRegion: aws.String("us-east-1"), Name: aws.String("app-dr")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state(dr, *cp.ImageId); apiCode(err) != "InvalidAMIID.NotFound" {
		t.Fatalf("right after CopyImage EC2 does not know the AMI yet; got %v", err)
	}
	own, err := dr.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil || len(own.Images) != 0 {
		t.Fatalf("listing right after CopyImage: %v %v", own, err)
	}
	// The SDK's ImageExists waiter retries InvalidAMIID.NotFound.
	k.Advance(k.Durations().ImageCopyInvisible - 2*time.Second)
	exists := ec2.NewImageExistsWaiter(dr, func(o *ec2.ImageExistsWaiterOptions) { o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second })
	if err := exists.Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{*cp.ImageId}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := state(dr, *cp.ImageId); st != "pending" || err != nil {
		t.Fatalf("copy once visible: %s %v", st, err)
	}
	k.Advance(k.Remaining("us-west-2", "image", *cp.ImageId) - 2*time.Second)
	avail := ec2.NewImageAvailableWaiter(dr, func(o *ec2.ImageAvailableWaiterOptions) { o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second })
	start := time.Now()
	if err := avail.Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{*cp.ImageId}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("waiter finished in %v; the copy had 2 s left", time.Since(start))
	}
}

func TestClockInstancesAndNATGatewaysArePendingFirst(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := ec2.NewFromConfig(env.For("us-east-1"))
	vpc, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := api.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	nat, err := api.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: sub.Subnet.SubnetId, AllocationId: eip.AllocationId})
	if err != nil {
		t.Fatal(err)
	}
	if nat.NatGateway.State != ec2types.NatGatewayStatePending {
		t.Fatalf("CreateNatGateway answered %s", nat.NatGateway.State)
	}
	run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(baseAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: sub.Subnet.SubnetId})
	if err != nil {
		t.Fatal(err)
	}
	id := *run.Instances[0].InstanceId
	inst, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || inst.Reservations[0].Instances[0].State.Name != ec2types.InstanceStateNamePending {
		t.Fatalf("new instance: %v %v", inst, err)
	}
	k.Advance(k.Durations().NatGateway - 2*time.Second)
	w := ec2.NewNatGatewayAvailableWaiter(api, func(o *ec2.NatGatewayAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	})
	start := time.Now()
	if err := w.Wait(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{*nat.NatGateway.NatGatewayId}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("NAT waiter finished in %v with 2 s left", time.Since(start))
	}
	if err := ec2.NewInstanceRunningWaiter(api, func(o *ec2.InstanceRunningWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
		Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestClockYoungInstanceProfileIsRefusedByEC2AndAutoScaling(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	ip, api, asg := iam.NewFromConfig(env.For("us-east-1")), ec2.NewFromConfig(env.For("us-east-1")), autoscaling.NewFromConfig(env.For("us-east-1"))
	k := p.EnableClock(realTime)
	if _, err := ip.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("app"), RoleName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	runIn := &ec2.RunInstancesInput{ImageId: aws.String(baseAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("app")}}
	_, err := api.RunInstances(ctx, runIn)
	if apiCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "Invalid IAM Instance Profile name") {
		t.Fatalf("RunInstances with a profile made just now: %v", err)
	}
	if _, err := api.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("app"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(baseAMI), InstanceType: ec2types.InstanceTypeT3Micro,
			IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("app")}}}); err != nil {
		t.Fatal(err)
	}
	asgIn := &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("app"), MinSize: aws.Int32(1), MaxSize: aws.Int32(1),
		AvailabilityZones: []string{"us-east-1a"}, LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("app")}}
	_, err = asg.CreateAutoScalingGroup(ctx, asgIn)
	if apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "fully-formed launch template") {
		t.Fatalf("CreateAutoScalingGroup with a profile made just now: %v", err)
	}
	k.Advance(k.Durations().IAMPropagation)
	if _, err := api.RunInstances(ctx, runIn); err != nil {
		t.Fatalf("after propagation: %v", err)
	}
	if _, err := asg.CreateAutoScalingGroup(ctx, asgIn); err != nil {
		t.Fatalf("after propagation: %v", err)
	}
	out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"app"}})
	if err != nil || len(out.AutoScalingGroups) != 1 || len(out.AutoScalingGroups[0].Instances) == 0 {
		t.Fatalf("asg: %v %v", out, err)
	}
	if st := out.AutoScalingGroups[0].Instances[0].LifecycleState; st != "Pending" {
		t.Fatalf("a new group's instance is %s, AWS shows Pending while it boots", st)
	}
}

func TestClockLoadBalancerProvisionsAndCacheIsCreating(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := ec2.NewFromConfig(env.For("us-east-1"))
	vpc, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		s, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String([]string{"10.0.1.0/24", "10.0.2.0/24"}[i]), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, *s.Subnet.SubnetId)
	}
	k := p.EnableClock(realTime)
	lbs := elbv2.NewFromConfig(env.For("us-east-1"))
	lb, err := lbs.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("app"), Subnets: subnets})
	if err != nil {
		t.Fatal(err)
	}
	if c := lb.LoadBalancers[0].State.Code; c != elbtypes.LoadBalancerStateEnumProvisioning {
		t.Fatalf("CreateLoadBalancer answered %s", c)
	}
	ec := elasticache.NewFromConfig(env.For("us-east-1"))
	if _, err := ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("cache"),
		ReplicationGroupDescription: aws.String("c"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	rg, err := ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("cache")})
	if err != nil || aws.ToString(rg.ReplicationGroups[0].Status) != "creating" {
		t.Fatalf("new replication group: %v %v", rg, err)
	}
	k.Advance(k.Durations().LoadBalancer - 2*time.Second)
	start := time.Now()
	if err := elbv2.NewLoadBalancerAvailableWaiter(lbs, func(o *elbv2.LoadBalancerAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).
		Wait(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lb.LoadBalancers[0].LoadBalancerArn}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("load balancer waiter finished in %v with 2 s left", time.Since(start))
	}
	k.Advance(k.Durations().CacheCluster)
	if err := elasticache.NewReplicationGroupAvailableWaiter(ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
		Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("cache")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeSourceRegionsAnswersFromTheTestsTable(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	p.SetSourceRegions(map[string][]string{"cn-northwest-1": {"cn-north-1"}})
	out, err := rds.NewFromConfig(env.For("cn-northwest-1")).DescribeSourceRegions(ctx, &rds.DescribeSourceRegionsInput{})
	if err != nil || len(out.SourceRegions) != 1 || aws.ToString(out.SourceRegions[0].RegionName) != "cn-north-1" {
		t.Fatalf("cn-northwest-1 sources: %v %v", out, err)
	}
	out, err = rds.NewFromConfig(env.For("cn-north-1")).DescribeSourceRegions(ctx, &rds.DescribeSourceRegionsInput{RegionName: aws.String("cn-northwest-1")})
	if err != nil || len(out.SourceRegions) != 0 {
		t.Fatalf("cn-north-1 has no sources in the table: %v %v", out, err)
	}
}

func TestClockTargetsAreInitialUntilBootedAndHealthyThresholdChecksPassed(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api, lbs := ec2.NewFromConfig(env.For("us-east-1")), elbv2.NewFromConfig(env.For("us-east-1"))
	vpc, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	tg, err := lbs.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("app"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		VpcId: vpc.Vpc.VpcId, HealthCheckIntervalSeconds: aws.Int32(10), HealthyThresholdCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	arn := tg.TargetGroups[0].TargetGroupArn
	run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(baseAMI), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lbs.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: arn, Targets: []elbtypes.TargetDescription{{Id: run.Instances[0].InstanceId}}}); err != nil {
		t.Fatal(err)
	}
	state := func() elbtypes.TargetHealthStateEnum {
		out, err := lbs.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: arn})
		if err != nil || len(out.TargetHealthDescriptions) != 1 {
			t.Fatalf("target health: %v %v", out, err)
		}
		return out.TargetHealthDescriptions[0].TargetHealth.State
	}
	if s := state(); s != elbtypes.TargetHealthStateEnumInitial {
		t.Fatalf("just registered: %s", s)
	}
	ready := k.Durations().InstanceBoot + 3*10*time.Second
	k.Advance(ready - 5*time.Second)
	if s := state(); s != elbtypes.TargetHealthStateEnumInitial {
		t.Fatalf("5 s before boot + 3 checks: %s", s)
	}
	k.Advance(5 * time.Second)
	if s := state(); s != elbtypes.TargetHealthStateEnumHealthy {
		t.Fatalf("after boot + 3 × 10 s checks: %s", s)
	}
}
