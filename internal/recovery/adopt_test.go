package recovery

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverNeverAdoptsWhatIsNotItsOwn (reliability review H2): a
// resource that already has a recovery name but was made by hand, by
// another stack or by another operation must fail its step with an error
// naming it, never be taken as the recovery's own ("done").
func TestFailoverNeverAdoptsWhatIsNotItsOwn(t *testing.T) {
	moto := testenv.Shared(t)
	type seed func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error
	cases := []struct {
		name, step, id string
		mode           string
		seed           seed
	}{
		{"untagged DB instance", StepDatabase, "shop-shop-db-dr", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			return foreignDB(ctx, env, cfg, nil)
		}},
		{"DB of another failover", StepDatabase, "shop-shop-db-dr", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			return foreignDB(ctx, env, cfg, tags.With(tags.Base("shop"), tags.OpKind, KindFailover, tags.Operation, "failover-20260101-000000-dead"))
		}},
		{"untagged cache", StepCache, "shop-cache", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			_, err := elasticache.NewFromConfig(env.For(cfg.DR.Region)).CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
				ReplicationGroupId: aws.String("shop-cache"), ReplicationGroupDescription: aws.String("by hand"),
				Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1),
			})
			return err
		}},
		{"untagged launch template", StepLaunchTemplate, "shop-app", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			_, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
				LaunchTemplateName: aws.String("shop-app"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0a1b2c3d4e5f60001")},
			})
			return err
		}},
		{"untagged target group", StepLoadBalancer, "shop-app", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			_, err := elb.NewFromConfig(env.For(cfg.DR.Region)).CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
				Name: aws.String("shop-app"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(net.VPC),
			})
			return err
		}},
		{"load balancer of another stack", StepLoadBalancer, "shop-app", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			_, err := elb.NewFromConfig(env.For(cfg.DR.Region)).CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
				Name: aws.String("shop-app"), Subnets: net.PublicSubnets, Type: elbtypes.LoadBalancerTypeEnumApplication,
				Tags: tags.ELB(tags.With(tags.Base("other"), tags.OpKind, KindFailover)),
			})
			return err
		}},
		{"untagged auto scaling group", StepApp, "shop-app", spec.DNSUpsert, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			lt, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
				LaunchTemplateName: aws.String("by-hand"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0a1b2c3d4e5f60001")},
			})
			if err != nil {
				return err
			}
			_, err = autoscaling.NewFromConfig(env.For(cfg.DR.Region)).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String("shop-app"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
				LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
				VPCZoneIdentifier: aws.String(net.AppSubnets[0]),
			})
			return err
		}},
		{"untagged prepared DR target group", StepLoadBalancer, "shop-dr", spec.DNSFailoverRecords, func(ctx context.Context, env *awsenv.Env, cfg *spec.Config, net Network) error {
			// The prepared target group replaced by a hand-made one of its name.
			c := elb.NewFromConfig(env.For(cfg.DR.Region))
			tgs, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"shop-dr"}})
			if err != nil {
				return err
			}
			lbs, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"shop-dr"}})
			if err != nil {
				return err
			}
			if _, err := c.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn}); err != nil {
				return err
			}
			if _, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
				Name: aws.String("shop-dr"), Subnets: net.PublicSubnets, Type: elbtypes.LoadBalancerTypeEnumApplication,
				Tags: tags.ELB(tags.With(tags.Base("shop"), tags.OpKind, "prepare")),
			}); err != nil {
				return err
			}
			if _, err := c.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tgs.TargetGroups[0].TargetGroupArn}); err != nil {
				return err
			}
			_, err = c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
				Name: aws.String("shop-dr"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(net.VPC),
			})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, "us-east-1", "us-west-2", tc.mode)
			ctx := ctxTimeout(t)
			seedProduction(t, env, cfg)
			res, err := Prepare(ctx, cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.seed(ctx, env, cfg, res.Network); err != nil {
				t.Fatalf("make the foreign resource: %v", err)
			}
			store := openStore(t, cfg)
			g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
			j, err := run(t, ctx, store, cfg, g, KindFailover)
			if err == nil {
				t.Fatalf("failover adopted the foreign %s %s: %v", tc.name, tc.id, outputsOf(j))
			}
			for _, s := range j.Steps {
				if s.ID != tc.step {
					continue
				}
				if s.Phase != runbook.PhaseFailed || !strings.Contains(s.Error, tc.id) || !strings.Contains(s.Error, "never adopts") {
					t.Fatalf("step %s: %s %q, want a failure naming %s", s.ID, s.Phase, s.Error, tc.id)
				}
				return
			}
			t.Fatalf("no step %s in %+v", tc.step, j.Steps)
		})
	}
}

func foreignDB(ctx context.Context, env *awsenv.Env, cfg *spec.Config, t map[string]string) error {
	_, err := rds.NewFromConfig(env.For(cfg.DR.Region)).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("shop-shop-db-dr"), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.micro"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
		Tags: tags.RDS(t),
	})
	return err
}

// TestEgressKeepsToItsOwnNAT (reliability review M3): moto ignores tag
// filters on DescribeNatGateways, as a buggy or future API might; another
// stack's NAT gateway in another VPC must be neither reused by a failover
// nor deleted by its teardown.
func TestEgressKeepsToItsOwnNAT(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(env.For(cfg.DR.Region))
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.99.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.99.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
		SubnetId: sub.Subnet.SubnetId, AllocationId: eip.AllocationId,
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeNatgateway, tags.With(tags.Base("other"), tags.OpKind, KindFailover, tags.Role, "nat")),
	})
	if err != nil {
		t.Fatal(err)
	}
	otherID := aws.ToString(other.NatGateway.NatGatewayId)

	store := openStore(t, cfg)
	r := New(cfg, env, Options{Wait: fastWait})
	g, _ := r.Graph()
	j, err := run(t, ctx, store, cfg, g, KindFailover)
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	if got := outputsOf(j)[StepEgress]["nat"]; got == otherID || got == "" {
		t.Fatalf("failover's egress used NAT %q; stack other's is %s", got, otherID)
	}
	tg, _ := r.TeardownGraph(TeardownOptions{SkipFinalSnapshot: true, Force: true})
	if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	got, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{otherID}})
	if err != nil || len(got.NatGateways) != 1 || got.NatGateways[0].State != ec2types.NatGatewayStateAvailable {
		t.Fatalf("teardown of shop touched stack other's NAT %s: %+v %v", otherID, got, err)
	}
}
