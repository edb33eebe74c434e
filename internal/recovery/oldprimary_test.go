package recovery

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestParseSelectorReadsDescribeSelectorBack(t *testing.T) {
	for _, sel := range []spec.InstanceSelector{
		{ID: "i-0123456789abcdef0"},
		{Tag: map[string]string{"Role": "web"}},
		{Tag: map[string]string{"aws:autoscaling:groupName": "shop-app-fb", "Env": "prod"}},
	} {
		got, ok := parseSelector(describeSelector(sel))
		if !ok || got.ID != sel.ID || len(got.Tag) != len(sel.Tag) {
			t.Fatalf("%q read back as %+v (%v)", describeSelector(sel), got, ok)
		}
		for k, v := range sel.Tag {
			if got.Tag[k] != v {
				t.Fatalf("%q read back as %+v", describeSelector(sel), got)
			}
		}
	}
	for _, bad := range []string{"", "web", "tagged ", "tagged Role", "i-1 2"} {
		if _, ok := parseSelector(bad); ok {
			t.Errorf("parseSelector(%q) accepted", bad)
		}
	}
}

// productionLB gives the seeded production a real load balancer in the
// primary region (prod-lb, forwarding to prod-tg, in a VPC of its own) and
// names it as recover.dns.primary_target; the config is reloaded. Call it
// before seedProduction, which points the record at the primary target,
// and registerProduction after.
func productionLB(t testing.TB, env *awsenv.Env, cfg *spec.Config) *spec.Config {
	t.Helper()
	ctx := context.Background()
	e := ec2.NewFromConfig(env.For(cfg.Primary.Region))
	vpc, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.250.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, az := range []string{"a", "b"} {
		s, err := e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.250." + string(rune('1'+i)) + ".0/24"),
			AvailabilityZone: aws.String(cfg.Primary.Region + az)})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, aws.ToString(s.Subnet.SubnetId))
	}
	c := elb.NewFromConfig(env.For(cfg.Primary.Region))
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("prod-lb"), Subnets: subnets, Type: elbtypes.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("prod-tg"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroups[0].TargetGroupArn}}}); err != nil {
		t.Fatal(err)
	}
	return editConfig(t, cfg, func(s string) string {
		return strings.Replace(s, cfg.Recover.DNS.PrimaryTarget, aws.ToString(lb.LoadBalancers[0].DNSName), 1)
	})
}

// registerProduction registers the seeded web instances in prod-tg.
func registerProduction(t testing.TB, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	ctx := context.Background()
	c := elb.NewFromConfig(env.For(cfg.Primary.Region))
	tgs, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"prod-tg"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := liveInstances(t, env, cfg.Primary.Region, "tag:Role", "web")
	var targets []elbtypes.TargetDescription
	for _, id := range ids {
		targets = append(targets, elbtypes.TargetDescription{Id: aws.String(id)})
	}
	if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgs.TargetGroups[0].TargetGroupArn, Targets: targets}); err != nil {
		t.Fatal(err)
	}
}

// liveInstances lists the instances of region not terminated, matching a
// filter (none when name is "").
func liveInstances(t testing.TB, env *awsenv.Env, region, name, value string) []string {
	t.Helper()
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}}
	if name != "" {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String(name), Values: []string{value}})
	}
	out, err := ec2.NewFromConfig(env.For(region)).DescribeInstances(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

// editConfig rewrites the config file with edit and loads it again.
func editConfig(t testing.TB, cfg *spec.Config, edit func(string) string) *spec.Config {
	t.Helper()
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.File, []byte(edit(string(raw))), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := spec.Load(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applyConfigChanges writes a failback's config changes into cfg's file,
// as failback --write-config does, and returns the config read back and
// the file's new text.
func applyConfigChanges(t testing.TB, cfg *spec.Config, changes []spec.ScalarEdit) (*spec.Config, string) {
	t.Helper()
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := spec.ApplyEdits(raw, changes)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.File, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := spec.Load(cfg.File)
	if err != nil {
		t.Fatalf("the written config does not load: %v\n%s", err, edited)
	}
	return out, string(edited)
}

// failBack runs a failback of cfg's failed-over stack to its end and
// returns its report. RDS's ReplicaLag is published as failback_test.go
// does (moto publishes none).
func failBack(t testing.TB, ctx context.Context, env *awsenv.Env, cfg *spec.Config, store state.Store, w *waitPolicy) *Report {
	t.Helper()
	f := NewFailback(cfg, env, Options{Wait: w})
	stop := publishReplicaLag(t, env, cfg.Primary.Region, f.home.n.db())
	defer stop()
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	j, err := run(t, ctx, store, cfg, g, KindFailback)
	if err != nil {
		t.Fatalf("failback: %v", err)
	}
	return f.BuildReport(j)
}

// adopt makes the config describe what serves after a failback, as a
// user does who follows its output: the config change it printed
// (failback --write-config), and the note on protect.images (select the
// new app's instances by their group).
func adopt(t testing.TB, cfg *spec.Config, rep *Report) *spec.Config {
	t.Helper()
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	after, err := spec.ApplyEdits(raw, rep.Failback.ConfigChanges)
	if err != nil {
		t.Fatal(err)
	}
	asg := ""
	for _, p := range rep.Failback.Production {
		if p.Type == "auto-scaling-group" {
			asg = p.ID
		}
	}
	if asg == "" {
		t.Fatalf("the failback names no production app: %+v", rep.Failback.Production)
	}
	sel := regexpImageSelector.ReplaceAllString(string(after), `instance: { tag: { "aws:autoscaling:groupName": `+asg+` } }`)
	return editConfig(t, cfg, func(string) string { return sel })
}

// TestRetireOldPrimary: after a failover and a failback, the old
// production (the seeded DB, the web instance, its load balancer) is
// retired exactly: not before the failback completed, not while the
// config still names it, not while something that stays uses it; then
// with a final snapshot of the DB, leaving the new production whole; and
// a second run finds it all gone.
func TestRetireOldPrimary(t *testing.T) {
	t.Parallel()
	env := promotingEnv(t, testenv.Shared(t).NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	ctx := ctxTimeout(t)
	cfg = productionLB(t, env, cfg)
	seedProduction(t, env, cfg)
	registerProduction(t, env, cfg)
	oldLB := cfg.Recover.DNS.PrimaryTarget
	oldWeb := liveInstances(t, env, cfg.Primary.Region, "tag:Role", "web")
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
	if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
		t.Fatal(err)
	}
	rep := failBack(t, ctx, env, cfg, store, fastWait)
	old := OldPrimaryOf(rep)
	for _, want := range []Resource{{"rds", "shop-db"}, {"instance", "tagged Role=web"}, {"load-balancer", oldLB}} {
		if !slices.Contains(old.Old, want) {
			t.Fatalf("the failback's old production %v lacks %v", old.Old, want)
		}
	}
	retire := func(cfg *spec.Config, old OldPrimary, dry bool) (*Retirement, error) {
		t.Helper()
		return RetireOldPrimary(ctx, cfg, env, old, RetireOptions{DryRun: dry, Wait: fastWait})
	}
	dbExists := func(id string) bool {
		out, err := rds.NewFromConfig(env.For(cfg.Primary.Region)).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		return err == nil && len(out.DBInstances) == 1
	}
	refusedFor := func(res *Retirement, err error, want ...string) {
		t.Helper()
		if !errors.Is(err, ErrRetireRefused) {
			t.Fatalf("retire: %v, want a refusal", err)
		}
		for _, w := range want {
			if !strings.Contains(strings.Join(res.Refused, "\n"), w) {
				t.Fatalf("refusals do not say %q:\n%s", w, strings.Join(res.Refused, "\n"))
			}
		}
		if live := liveInstances(t, env, cfg.Primary.Region, "", ""); !dbExists("shop-db") || !slices.Contains(live, oldWeb[0]) {
			t.Fatal("a refused retirement deleted something")
		}
	}

	// Before the failback completed: the old production may be all there is.
	unfinished := old
	unfinished.Completed = false
	res, err := retire(cfg, unfinished, false)
	refusedFor(res, err, "has not completed")

	// The config as it was still names the old production.
	res, err = retire(cfg, old, false)
	refusedFor(res, err, "recover.database.from still names shop-db", "protect.databases", "protect.images web still selects instance "+oldWeb[0], "recover.dns.primary_target")

	cfg = adopt(t, cfg, rep)
	dry, err := retire(cfg, old, true)
	if err != nil {
		t.Fatalf("dry run after the config change: %v (%v)", err, dry.Refused)
	}
	want := map[string]string{"rds-instance/shop-db": RetireDelete, "instance/" + oldWeb[0]: RetireDelete, "load-balancer/prod-lb": RetireDelete, "target-group/prod-tg": RetireKept}
	got := map[string]string{}
	points := map[string]bool{}
	for _, it := range dry.Items {
		if it.Type == RetirePoint {
			// The seeded protect cycle's points of shop-db, in both regions.
			if it.Phase != RetireKept {
				t.Fatalf("a recovery point of the retired DB would be %s: %+v", it.Phase, it)
			}
			points[it.Region] = true
			continue
		}
		name := it.ID
		if it.Name != "" {
			name = it.Name
		}
		got[it.Type+"/"+name] = it.Phase
		for _, p := range old.Production {
			if p.ID == it.ID || p.ID == name {
				t.Fatalf("the dry run lists %s, which is production now", p.ID)
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("dry run: %s is %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("dry run lists %v, want exactly %v", got, want)
	}
	if !points[cfg.Primary.Region] || !points[cfg.DR.Region] {
		t.Fatalf("the dry run does not name the retired DB's recovery points in both regions: %v", points)
	}
	if !dbExists("shop-db") {
		t.Fatal("the dry run deleted the old DB")
	}

	// Something that stays still reads the old DB's endpoint.
	e := ec2.NewFromConfig(env.For(cfg.Primary.Region))
	db, _ := rds.NewFromConfig(env.For(cfg.Primary.Region)).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("shop-db")})
	host := aws.ToString(db.DBInstances[0].Endpoint.Address)
	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("reports-job"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte("DB=" + host + ":3306\n")))}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = retire(cfg, old, false)
	refusedFor(res, err, "still read by the user-data of launch template reports-job")
	if _, err := e.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId}); err != nil {
		t.Fatal(err)
	}

	// The new production's instances carry the old selector's tag too:
	// what it selects now includes the serving app, which stays.
	var newApp string
	for _, p := range old.Production {
		if p.Type == "auto-scaling-group" {
			newApp = p.ID
		}
	}
	serving := liveInstances(t, env, cfg.Primary.Region, "tag:aws:autoscaling:groupName", newApp)
	roleWeb := []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String("web")}}
	if _, err := e.CreateTags(ctx, &ec2.CreateTagsInput{Resources: serving, Tags: roleWeb}); err != nil {
		t.Fatal(err)
	}
	res, err = retire(cfg, old, true)
	refusedFor(res, err, "auto-scaling-group "+newApp+" is production now")
	if _, err := e.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: serving, Tags: roleWeb}); err != nil {
		t.Fatal(err)
	}

	// Someone protected the old DB against deletion: theirs to undo.
	protect := func(on bool) {
		t.Helper()
		if _, err := rds.NewFromConfig(env.For(cfg.Primary.Region)).ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("shop-db"),
			DeletionProtection: aws.Bool(on), ApplyImmediately: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	protect(true)
	res, err = retire(cfg, old, false)
	refusedFor(res, err, "DB instance shop-db in "+cfg.Primary.Region+" has deletion protection on")
	protect(false)

	// The record moved back to the old load balancer (by hand, say).
	newLB := recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com")
	pointRecord(t, env, cfg, oldLB)
	res, err = retire(cfg, old, false)
	refusedFor(res, err, "the record shop.example.com still sends users to it")
	pointRecord(t, env, cfg, newLB)

	res, err = retire(cfg, old, false)
	if err != nil {
		t.Fatalf("retire: %v", err)
	}
	final := ""
	for _, it := range res.Items {
		if it.Phase != RetireDeleted && it.Phase != RetireKept {
			t.Fatalf("%s %s: %s %s", it.Type, it.ID, it.Phase, it.Error)
		}
		if it.Type == RetireRDSInstance {
			final = it.FinalSnapshot
		}
	}
	if dbExists("shop-db") {
		t.Fatal("the old DB is still there")
	}
	if _, err := rds.NewFromConfig(env.For(cfg.Primary.Region)).DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(final)}); final == "" || err != nil {
		t.Fatalf("no final snapshot %q of the old DB: %v", final, err)
	}
	if ids := liveInstances(t, env, cfg.Primary.Region, "tag:Role", "web"); len(ids) != 0 {
		t.Fatalf("old web instances still run: %v", ids)
	}
	if lbs, err := elb.NewFromConfig(env.For(cfg.Primary.Region)).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{}); err != nil || len(lbs.LoadBalancers) != 1 ||
		aws.ToString(lbs.LoadBalancers[0].DNSName) != newLB {
		t.Fatalf("load balancers after retiring: %v (want only %s)", lbs, newLB)
	}
	assertOneProduction(t, env, cfg)

	again, err := retire(cfg, old, false)
	if err != nil || again.Deletes() {
		t.Fatalf("second retire: %v, %+v", err, again.Items)
	}
}

// pointRecord points the stack's record at target, as failover does.
func pointRecord(t testing.TB, env *awsenv.Env, cfg *spec.Config, target string) {
	t.Helper()
	d := cfg.Recover.DNS
	if err := upsertRecord(context.Background(), newClients(env, cfg.DR.Region).dns(), d, d.Record, target, cfg.Primary.Region, *fastWait); err != nil {
		t.Fatal(err)
	}
}

// regexpImageSelector is the image selector in testConfig's file.
var regexpImageSelector = regexp.MustCompile(`instance: \{ tag: \{[^}]*\} \}`)
