package recovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) {
	// TestServeAsAProcess protects on `every: 2s`, in this process and in
	// the child; a config outside tests cannot go below a minute.
	spec.ShortIntervalsForTests(time.Second)
	if args, ok := childArgs(); ok {
		os.Exit(runChild(args))
	}
	os.Exit(testenv.Main(m))
}

// pairs are the region pairs every recovery test runs in: both China
// directions (one of IAM's and Route 53's homes dies with either primary)
// and the aws partition's us-east-1, home of both.
var pairs = []struct{ primary, dr string }{
	{"cn-northwest-1", "cn-north-1"},
	{"cn-north-1", "cn-northwest-1"},
	{"us-east-1", "us-west-2"},
}

const userDataTmpl = `#!/bin/bash
# test template
DB={{ .DBHost }}:{{ .DBPort }}
CACHE={{ .CacheHost }}:{{ .CachePort }}
BUCKET={{ .Bucket }} REGION={{ .Region }} USER={{ .Vars.db_user }}
`

// testConfig writes a config for the pair and DNS mode and loads it.
func testConfig(t testing.TB, primary, dr, mode string) *spec.Config {
	t.Helper()
	dir := t.TempDir()
	// S3 bucket names are global in moto as in AWS, across accounts too.
	uniq := testenv.RandomAccountID()[:8]
	if err := os.WriteFile(filepath.Join(dir, "user-data.sh.tmpl"), []byte(userDataTmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`stack: shop
primary: { region: %s }
dr: { region: %s }
state: { path: %s }
protect:
  databases: [ { id: shop-db, keep: { primary: 3, dr: 3 } } ]
  images: [ { name: web, instance: { tag: { Role: web } } } ]
  buckets: [ { source: shop-media-%s-%s, replica: shop-media-dr-%s-%s } ]
recover:
  database: { from: shop-db, class: db.t3.medium }
  cache: { node_type: cache.t3.micro }
  app:
    image_from: web
    instance_type: t3.small
    capacity: { min: 1, desired: 2, max: 3 }
    user_data: user-data.sh.tmpl
    vars: { db_user: shop }
  dns: { mode: %s, zone: example.com, record: shop.example.com, primary_target: prod-lb.%s.example.net, drill_record: drill.example.com }
`, primary, dr, filepath.Join(dir, "state"), primary, uniq, dr, uniq, mode, primary)
	p := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// seedProduction makes the primary side a protect cycle needs (a MySQL
// instance, a tagged web instance), the Route 53 zone with the production
// record, then runs one protect cycle so that DR copies exist.
func seedProduction(t testing.TB, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	ctx := context.Background()
	p := env.For(cfg.Primary.Region)
	if _, err := rds.NewFromConfig(p).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("shop-db"), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.medium"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2.NewFromConfig(p).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Small,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String("web")}}}},
	}); err != nil {
		t.Fatal(err)
	}
	zone, err := route53.NewFromConfig(env.For(cfg.DR.Region)).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("example.com"), CallerReference: aws.String(testenv.RandomAccountID()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := route53.NewFromConfig(env.For(cfg.DR.Region)).ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: zone.HostedZone.Id,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("shop.example.com."), Type: r53types.RRTypeCname, TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(cfg.Recover.DNS.PrimaryTarget)}},
		}}}},
	}); err != nil {
		t.Fatal(err)
	}
	seedBuckets(t, env, cfg)
	rep, err := points.Backup(ctx, env, cfg, points.BackupOptions{Only: []string{"shop-db", "web"}})
	if err != nil {
		t.Fatalf("protect cycle: %v (%+v)", err, rep)
	}
}

// seedBuckets makes the media bucket with an object and its replica, set up
// and back-filled. moto never replicates (MOTO.md): the sync is the copy.
func seedBuckets(t testing.TB, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	ctx := context.Background()
	for _, b := range cfg.Protect.Buckets {
		for _, side := range []struct{ bucket, region string }{{b.Source, cfg.Primary.Region}, {b.Replica, cfg.DR.Region}} {
			c := s3.NewFromConfig(env.For(side.region), func(o *s3.Options) { o.UsePathStyle = true })
			in := &s3.CreateBucketInput{Bucket: aws.String(side.bucket)}
			if side.region != "us-east-1" {
				in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(side.region)}
			}
			if _, err := c.CreateBucket(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		src := s3.NewFromConfig(env.For(cfg.Primary.Region), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := src.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Source), Key: aws.String("uploads/2026/11/cat.jpg"), Body: strings.NewReader("meow")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3sync.Setup(ctx, env, cfg, b, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s3sync.Sync(ctx, env, cfg, b, s3sync.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func openStore(t testing.TB, cfg *spec.Config) state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func run(t testing.TB, ctx context.Context, store state.Store, cfg *spec.Config, g *runbook.Graph, kind string) (*runbook.Journal, error) {
	t.Helper()
	r := &runbook.Runner{Store: store, Parallelism: 8}
	return r.Run(ctx, g, cfg.Stack, kind, nil)
}

// counts are the recovery-plane resources in a region, per type.
func counts(t testing.TB, env *awsenv.Env, region string) map[string]int {
	t.Helper()
	ctx := context.Background()
	cfg := env.For(region)
	out := map[string]int{}
	dbs, err := rds.NewFromConfig(cfg).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs.DBInstances {
		if aws.ToString(d.DBInstanceStatus) != "deleting" {
			out["db"]++
		}
	}
	rgs, err := elasticache.NewFromConfig(cfg).DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rgs.ReplicationGroups {
		// moto keeps deleted groups in `deleting` for ever (MOTO.md).
		if aws.ToString(g.Status) != "deleting" {
			out["cache"]++
		}
	}
	lbs, err := elb.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	out["lb"] = len(lbs.LoadBalancers)
	tgs, err := elb.NewFromConfig(cfg).DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	out["tg"] = len(tgs.TargetGroups)
	asgs, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	out["asg"] = len(asgs.AutoScalingGroups)
	lts, err := ec2.NewFromConfig(cfg).DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	out["lt"] = len(lts.LaunchTemplates)
	vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}}}})
	if err != nil {
		t.Fatal(err)
	}
	out["vpc"] = len(vpcs.Vpcs)
	nats, err := ec2.NewFromConfig(cfg).DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"pending", "available"}}}})
	if err != nil {
		t.Fatal(err)
	}
	out["nat"] = len(nats.NatGateways)
	return out
}

// userData returns the decoded user-data of the newest version of a launch
// template.
func userData(t testing.TB, env *awsenv.Env, region, name string) string {
	t.Helper()
	out, err := ec2.NewFromConfig(env.For(region)).DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(name), Versions: []string{"$Latest"},
	})
	if err != nil || len(out.LaunchTemplateVersions) == 0 {
		t.Fatalf("launch template %s: %v", name, err)
	}
	return decodeB64(t, aws.ToString(out.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
}

func decodeB64(t testing.TB, s string) string {
	t.Helper()
	b, err := base64Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recordTarget returns where name points (CNAME value or alias target) in
// the zone, ignoring failover record pairs.
func recordTarget(t testing.TB, env *awsenv.Env, region, zone, name string) string {
	t.Helper()
	ctx := context.Background()
	c := route53.NewFromConfig(env.For(region))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(zone + ".")})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatalf("zone %s: %v", zone, err)
	}
	rrs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs.ResourceRecordSets {
		if strings.EqualFold(aws.ToString(rr.Name), name+".") && rr.SetIdentifier == nil {
			if rr.AliasTarget != nil {
				return strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), ".")
			}
			if len(rr.ResourceRecords) > 0 {
				return aws.ToString(rr.ResourceRecords[0].Value)
			}
		}
	}
	return ""
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fastWait polls quickly: moto is never asynchronous.
var fastWait = &waitPolicy{First: 10 * time.Millisecond, Max: 50 * time.Millisecond, Timeout: 30 * time.Second}
