package recovery

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverFailbackCycle: failover, failback, failover, failback of an
// encrypted MySQL instance, in both partitions (cn-north-1 and
// cn-northwest-1; us-east-1 and us-west-2). After each failback the user
// adopts what serves (the config change failback printed, and its note on
// protect.images) and retires the old primary; at the end there is one
// production (one serving DB, one app, DNS at the primary's load
// balancer), nothing in the DR region but what prepare made, nothing left
// of either retired production, and no snapshot beyond the retention
// except the final snapshots of the databases that were deleted.
func TestFailoverFailbackCycle(t *testing.T) {
	for _, c := range []struct {
		primary, dr, mode string
		cluster           bool
		retireAtEnd       bool
	}{
		{"cn-north-1", "cn-northwest-1", spec.DNSFailoverRecords, false, false},
		{"us-east-1", "us-west-2", spec.DNSUpsert, false, false},
		{"cn-north-1", "cn-northwest-1", spec.DNSUpsert, true, false},
		{"us-east-1", "us-west-2", spec.DNSFailoverRecords, true, false},
		// A user who retires only after the second failback: its report
		// names the first failback's production; the hand-built one the
		// first failback replaced is retired as its earlier failback's.
		{"cn-northwest-1", "cn-north-1", spec.DNSUpsert, false, true},
	} {
		name := c.primary + "/instance"
		if c.cluster {
			name = c.primary + "/aurora"
		}
		if c.retireAtEnd {
			name += "/retire-at-end"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cycle(t, c.primary, c.dr, c.mode, c.cluster, c.retireAtEnd)
		})
	}
}

func cycle(t *testing.T, primary, dr, mode string, cluster, retireAtEnd bool) {
	proxy, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := promotingEnv(t, proxy.URL)
	cfg := testConfig(t, primary, dr, mode)
	cfg = productionLB(t, env, cfg)
	// No cache: moto keeps a deleted replication group `deleting` for ever
	// and never frees its id (MOTO.md), so the second failover could not
	// make shop-cache again; on AWS it can.
	cfg = editConfig(t, cfg, func(s string) string {
		s = strings.Replace(s, "  cache: { node_type: cache.t3.micro }\n", "", 1)
		if cluster {
			s = strings.Replace(s, "{ id: shop-db,", "{ id: shop-db, kind: cluster,", 1)
			s = strings.Replace(s, "class: db.t3.medium", "class: db.r6g.large", 1)
		}
		return s
	})
	if pd, ok := cfg.Database("shop-db"); cfg.Recover.Cache != nil || !ok || pd.IsCluster() != cluster {
		t.Fatal("config mutation did not apply")
	}
	cfg = seedEncryptedProduction(t, env, cfg, cluster)
	registerProduction(t, env, cfg)
	// From here everything takes AWS's time (clock_test.go): the
	// retirements wait out real deletions, not moto's instant ones.
	k := proxy.EnableClock(emulator.ClockOptions{Minute: clockMinute})
	// Two rounds of AWS time, under -race on a shared machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	t.Cleanup(cancel)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	deleted := []string{}
	serving := "" // the app of the production in the primary, once a failback built it
	setServing := func(rep *Report) {
		for _, p := range rep.Failback.Production {
			if p.Type == "auto-scaling-group" {
				serving = p.ID
			}
		}
	}
	var earlier []OldPrimary // failbacks not retired after their round
	for round := 1; round <= 2; round++ {
		if round > 1 {
			// The next protect cycle copies what serves now.
			if rep, err := points.Backup(ctx, env, cfg, points.BackupOptions{Only: []string{cfg.Recover.Database.From, "web"}}); err != nil {
				t.Fatalf("round %d: protect cycle: %v (%+v)", round, err, rep)
			}
		}
		g, err := New(cfg, env, Options{Wait: clockWait}).Graph()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
			t.Fatalf("round %d: failover: %v", round, err)
		}
		deleted = append(deleted, newNames(cfg, "").db())
		if next := NewFailback(cfg, env, Options{}).home.n.asg(); next == serving {
			t.Fatalf("round %d: this failback would build its app as %s, the name of the production it replaces", round, next)
		}
		rep := failBack(t, ctx, env, cfg, store, clockWait)
		before := cfg.Recover.Database.From
		cfg = adopt(t, cfg, rep)
		if cfg.Recover.Database.From == before {
			t.Fatalf("round %d: the failback's config change leaves recover.database.from at %s", round, before)
		}
		start := time.Now()
		old := OldPrimaryOf(rep)
		deleted = append(deleted, before)
		if retireAtEnd {
			if round == 1 {
				earlier = append(earlier, old)
				setServing(rep)
				continue
			}
			old.Earlier = earlier
		}
		res, err := RetireOldPrimary(ctx, cfg, env, old, RetireOptions{Wait: clockWait})
		if err != nil {
			t.Fatalf("round %d: retire the old primary: %v (%v)", round, err, res.Refused)
		}
		if !res.Deletes() {
			t.Fatalf("round %d: retiring deleted nothing: %+v", round, res.Items)
		}
		t.Logf("round %d: retired the old primary in %v at AWS durations", round, k.AWS(time.Since(start)).Round(time.Second))
		assertOneProduction(t, env, cfg)
		assertNoLeftovers(t, env, cfg, deleted)
		setServing(rep)
	}
}

// seedEncryptedProduction is seedProduction with the database encrypted
// by a key of the primary region, a DR key for its copies and a primary
// key for the way back (recover.database.failback_kms_key).
func seedEncryptedProduction(t *testing.T, env *awsenv.Env, cfg *spec.Config, cluster bool) *spec.Config {
	t.Helper()
	ctx := context.Background()
	key := func(region string) string {
		k, err := kms.NewFromConfig(env.For(region)).CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	pk, dk := key(cfg.Primary.Region), key(cfg.DR.Region)
	cfg = editConfig(t, cfg, func(s string) string {
		s = strings.Replace(s, "keep: { primary: 3, dr: 3 }", "keep: { primary: 3, dr: 3 }, dr_kms_key: "+dk, 1)
		return strings.Replace(s, "database: { from: shop-db, ", "database: { from: shop-db, failback_kms_key: "+pk+", ", 1)
	})
	if cfg.Recover.Database.FailbackKMSKey != pk {
		t.Fatal("config mutation did not apply")
	}
	p := env.For(cfg.Primary.Region)
	db := rds.NewFromConfig(p)
	if cluster {
		if _, err := db.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
			DBClusterIdentifier: aws.String("shop-db"), Engine: aws.String("aurora-mysql"),
			MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"), StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String(pk),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String("shop-db-1"), DBClusterIdentifier: aws.String("shop-db"), Engine: aws.String("aurora-mysql"),
			DBInstanceClass: aws.String("db.r6g.large"),
		}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := db.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("shop-db"), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.medium"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
		StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String(pk),
	}); err != nil {
		t.Fatal(err)
	}
	seedWebZoneAndBackup(t, ctx, env, cfg)
	return cfg
}

// assertNoLeftovers: nothing of a retired production and no DB snapshot
// beyond what the config keeps, but for the final snapshots of the
// databases the cycle deleted (deleted lists their ids).
func assertNoLeftovers(t *testing.T, env *awsenv.Env, cfg *spec.Config, deleted []string) {
	t.Helper()
	ctx := context.Background()
	p := env.For(cfg.Primary.Region)
	lts, err := ec2.NewFromConfig(p).DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) != 1 {
		var names []string
		for _, lt := range lts.LaunchTemplates {
			names = append(names, aws.ToString(lt.LaunchTemplateName))
		}
		t.Fatalf("launch templates in %s: %v, want the app's alone", cfg.Primary.Region, names)
	}
	tgs, err := elb.NewFromConfig(p).DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tgs.TargetGroups {
		if len(tg.LoadBalancerArns) == 0 && aws.ToString(tg.TargetGroupName) != "prod-tg" {
			// prod-tg is the hand-built production's: not pilotlight's to delete.
			t.Fatalf("target group %s in %s serves no load balancer", aws.ToString(tg.TargetGroupName), cfg.Primary.Region)
		}
	}
	// The endpoints the apps read (kind_handoff.go): the serving
	// generation's in the primary, none in the DR region.
	current := "-fb" + strconv.Itoa(failbackGeneration(cfg)-1)
	for _, region := range []string{cfg.Primary.Region, cfg.DR.Region} {
		ps, err := ssm.NewFromConfig(env.For(region)).GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/" + cfg.Stack + "/recovery/"), Recursive: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.Parameters {
			if name := aws.ToString(p.Name); region == cfg.DR.Region || !strings.HasSuffix(name, current) {
				t.Fatalf("SSM parameter %s left in %s (the serving generation's end in %s)", name, region, current)
			}
		}
	}
	keep := map[string]int{}
	for _, d := range cfg.Protect.Databases {
		keep[cfg.Primary.Region+"/"+d.ID], keep[cfg.DR.Region+"/"+d.ID] = d.Keep.Primary, d.Keep.DR
	}
	for _, region := range []string{cfg.Primary.Region, cfg.DR.Region} {
		c := rds.NewFromConfig(env.For(region))
		snaps, err := c.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
		if err != nil {
			t.Fatal(err)
		}
		csnaps, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
		if err != nil {
			t.Fatal(err)
		}
		all := map[string][]rdstypes.Tag{}
		for _, s := range snaps.DBSnapshots {
			all[aws.ToString(s.DBSnapshotIdentifier)] = s.TagList
		}
		for _, s := range csnaps.DBClusterSnapshots {
			all[aws.ToString(s.DBClusterSnapshotIdentifier)] = s.TagList
		}
		per := map[string][]string{}
		for id, tl := range all {
			final := false
			for _, d := range deleted {
				final = final || strings.HasPrefix(id, d+"-final-")
			}
			if final {
				continue
			}
			tg := tags.FromRDS(tl)
			if !tags.Managed(tg, cfg.Stack) || tg[tags.OpKind] != "" {
				// A failback's copies on the way home go when its old
				// production is retired.
				t.Fatalf("snapshot %s in %s is neither a recovery point nor a final snapshot of a deleted DB (tags %v)", id, region, tg)
			}
			per[region+"/"+tg[tags.Resource]] = append(per[region+"/"+tg[tags.Resource]], id)
		}
		for k, ids := range per {
			if n, ok := keep[k]; ok && len(ids) > n {
				t.Fatalf("%d snapshots of %s, above its retention of %d: %v", len(ids), k, n, ids)
			}
			if _, ok := keep[k]; !ok {
				// A retired DB's points: kept (retire lists them), and
				// never more than the retention they had.
				if n := cfg.Protect.Databases[0].Keep.Primary; len(ids) > n {
					t.Fatalf("%d recovery points of the retired %s, above the retention of %d it had: %v", len(ids), k, n, ids)
				}
			}
		}
	}
}

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
	if serving = sortedUniq(serving); len(serving) != 1 || serving[0] != cfg.Recover.Database.From {
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
