package recovery

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestTeardownNetworkKeepsWhatStillServes: after a failback the primary's
// launch template runs with the app role, and an instance still runs in a
// prepared subnet with the prepared app group; `teardown --network` keeps
// the role, the groups and the subnets, and names who uses them.
func TestTeardownNetworkKeepsWhatStillServes(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	res, err := Prepare(ctx, cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	role := newNames(cfg, "").appRole()
	// What a failback leaves in the primary: a launch template with the
	// shared app role's instance profile.
	if _, err := ec2.NewFromConfig(env.For(cfg.Primary.Region)).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("shop-app-fb"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(role)}},
	}); err != nil {
		t.Fatal(err)
	}
	run1, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(res.Network.AppSubnets[0]), SecurityGroupIds: []string{res.Network.AppSecurityGroup},
	})
	if err != nil {
		t.Fatal(err)
	}
	// moto lacks DeleteCacheSubnetGroup (MOTO.md), which would fail the
	// step and drop its outputs: a named subnet group is not pilotlight's
	// to delete, so teardown leaves it alone.
	cfg.Recover.Cache.SubnetGroup = "named-by-the-user"
	store := openStore(t, cfg)
	tg, _ := New(cfg, env, Options{Wait: fastWait}).TeardownGraph(TeardownOptions{Network: true})
	j, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover)
	if err != nil {
		t.Fatalf("teardown --network: %v", err)
	}
	out := outputsOf(j)[StepNetwork]
	if !strings.Contains(out["kept_app_role"], "launch template shop-app-fb") {
		t.Fatalf("the app role's users are not named: %v", out)
	}
	if _, err := iam.NewFromConfig(env.For(cfg.Primary.Region)).GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(role)}); err != nil {
		t.Fatalf("the instance profile the primary's launch template uses was deleted: %v", err)
	}
	instance := aws.ToString(run1.Instances[0].InstanceId)
	if !strings.Contains(out["kept_network"], res.Network.AppSecurityGroup) || !strings.Contains(out["kept_network"], instance) {
		t.Fatalf("the group and subnet in use, and their user %s, are not named: %v", instance, out)
	}
	sn, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{res.Network.AppSubnets[0]}})
	if err != nil || len(sn.Subnets) != 1 {
		t.Fatalf("the subnet an instance runs in was deleted: %v", err)
	}
}
