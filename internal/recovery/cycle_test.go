package recovery

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// assertOneProduction: the primary region runs exactly one production,
// the one the config names: one serving DB (recover.database.from), one
// app, one load balancer, and the record sends users to it; the DR region
// runs no app, DB, cache or recovery load balancer.
func assertOneProduction(t *testing.T, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	ctx := context.Background()
	p := env.For(cfg.Primary.Region)
	dbs, err := rds.NewFromConfig(p).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var serving []string
	for _, d := range dbs.DBInstances {
		if aws.ToString(d.DBInstanceStatus) != "deleting" {
			id := aws.ToString(d.DBInstanceIdentifier)
			if c := aws.ToString(d.DBClusterIdentifier); c != "" {
				id = c
			}
			serving = append(serving, id)
		}
	}
	if len(sortedUniq(serving)) != 1 || serving[0] != cfg.Recover.Database.From {
		t.Fatalf("databases in %s: %v, want only %s (recover.database.from)", cfg.Primary.Region, serving, cfg.Recover.Database.From)
	}
	asgs, err := autoscaling.NewFromConfig(p).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(asgs.AutoScalingGroups) != 1 || len(asgs.AutoScalingGroups[0].Instances) == 0 {
		t.Fatalf("auto scaling groups in %s: %d, want one app with instances", cfg.Primary.Region, len(asgs.AutoScalingGroups))
	}
	group := aws.ToString(asgs.AutoScalingGroups[0].AutoScalingGroupName)
	if all, app := liveInstances(t, env, cfg.Primary.Region, "", ""), liveInstances(t, env, cfg.Primary.Region, "tag:aws:autoscaling:groupName", group); len(all) != len(app) {
		t.Fatalf("instances in %s: %v, of which %v are the app's (%s)", cfg.Primary.Region, all, app, group)
	}
	lbs, err := elb.NewFromConfig(p).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs.LoadBalancers) != 1 || aws.ToString(lbs.LoadBalancers[0].DNSName) != cfg.Recover.DNS.PrimaryTarget {
		t.Fatalf("load balancers in %s: %d, want only %s (recover.dns.primary_target)", cfg.Primary.Region, len(lbs.LoadBalancers), cfg.Recover.DNS.PrimaryTarget)
	}
	live := ""
	switch cfg.Recover.DNS.Mode {
	case spec.DNSFailoverRecords:
		live = failoverTarget(t, env, cfg, "primary")
	default:
		live = recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com")
	}
	if live != cfg.Recover.DNS.PrimaryTarget {
		t.Fatalf("the record sends users to %s, not the primary's load balancer %s", live, cfg.Recover.DNS.PrimaryTarget)
	}
	prepared := 0
	if cfg.Recover.DNS.Mode == spec.DNSFailoverRecords {
		prepared = 1 // the prepared DR load balancer of the SECONDARY record
	}
	if c := counts(t, env, cfg.DR.Region); c["db"] != 0 || c["asg"] != 0 || c["lt"] != 0 || c["cache"] != 0 || c["lb"] != prepared {
		t.Fatalf("DR region %s after failback: %v", cfg.DR.Region, c)
	}
}
