package emulator_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// world is one isolated moto account behind a proxy, with AWS access.
func world(t *testing.T) (*emulator.Proxy, *awsenv.Env) {
	t.Helper()
	p, err := emulator.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, testenv.AWS(t, p.URL)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func makeDB(t *testing.T, ctx context.Context, api *rds.Client, id string, gb int32) {
	t.Helper()
	if _, err := api.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("mysql"),
		AllocatedStorage: aws.Int32(gb), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("secret123456"),
	}); err != nil {
		t.Fatal(err)
	}
}

func snapshotState(t *testing.T, ctx context.Context, api *rds.Client, id string) (string, int32) {
	t.Helper()
	out, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
	if err != nil || len(out.DBSnapshots) != 1 {
		t.Fatalf("describe %s: %v %v", id, out, err)
	}
	s := out.DBSnapshots[0]
	return aws.ToString(s.Status), aws.ToInt32(s.PercentProgress)
}

func TestClockSnapshotIsCreatingWithRisingProgressUntilItsSizeSaysDone(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := rds.NewFromConfig(env.For("us-east-1"))
	makeDB(t, ctx, api, "big", 500)
	makeDB(t, ctx, api, "small", 20)
	k := p.EnableClock(emulator.ClockOptions{Minute: 50 * time.Millisecond})

	for _, id := range []string{"big", "small"} {
		out, err := api.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(id), DBSnapshotIdentifier: aws.String(id + "-s")})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.DBSnapshot.Status); got != "creating" {
			t.Fatalf("CreateDBSnapshot answered %q, AWS answers creating", got)
		}
	}
	st, p0 := snapshotState(t, ctx, api, "big-s")
	if st != "creating" {
		t.Fatalf("right after create: %s", st)
	}
	k.Advance(20 * time.Minute)
	st, p1 := snapshotState(t, ctx, api, "big-s")
	if st != "creating" || p1 <= p0 || p1 >= 100 {
		t.Fatalf("after 20 AWS minutes a 500 GB snapshot: %s %d%% (was %d%%)", st, p1, p0)
	}
	if st, _ := snapshotState(t, ctx, api, "small-s"); st != "available" {
		t.Fatalf("after 20 AWS minutes a 20 GB snapshot is %s", st)
	}

	// The SDK's own waiter polls until the clock lets moto's answer through.
	start := time.Now()
	w := rds.NewDBSnapshotAvailableWaiter(api, func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("big-s")}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	left := k.Real(k.Durations().DBSnapshot.For(500) - 20*time.Minute)
	if waited := time.Since(start); waited < left*8/10 {
		t.Fatalf("waiter done after %v; the snapshot had %v left", waited, left)
	}
	if st, pct := snapshotState(t, ctx, api, "big-s"); st != "available" || pct != 100 {
		t.Fatalf("done: %s %d%%", st, pct)
	}
}

func TestClockRestoredInstanceHasNoEndpointUntilItLeavesCreating(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := rds.NewFromConfig(env.For("us-east-1"))
	makeDB(t, ctx, api, "db", 20)
	if _, err := api.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("db"), DBSnapshotIdentifier: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(emulator.ClockOptions{Minute: 200 * time.Millisecond})
	if _, err := api.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String("restored"), DBSnapshotIdentifier: aws.String("snap"),
	}); err != nil {
		t.Fatal(err)
	}
	describe := func() (string, *string) {
		out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("restored")})
		if err != nil || len(out.DBInstances) != 1 {
			t.Fatalf("describe: %v %v", out, err)
		}
		db := out.DBInstances[0]
		if db.Endpoint == nil {
			return aws.ToString(db.DBInstanceStatus), nil
		}
		return aws.ToString(db.DBInstanceStatus), db.Endpoint.Address
	}
	if st, ep := describe(); st != "creating" || ep != nil {
		t.Fatalf("right after restore: %s endpoint %v", st, aws.ToString(ep))
	}
	total := k.Durations().DBRestore.For(20)
	k.Advance(total * 9 / 10)
	if st, ep := describe(); st != "backing-up" || aws.ToString(ep) == "" {
		t.Fatalf("at 90%%: %s endpoint %q", st, aws.ToString(ep))
	}
	w := rds.NewDBInstanceAvailableWaiter(api, func(o *rds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("restored")}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, ep := describe(); st != "available" || aws.ToString(ep) == "" {
		t.Fatalf("done: %s %q", st, aws.ToString(ep))
	}
}

func TestClockCrossRegionCopyIsPendingThenCopyingForAsLongAsItsSize(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	src, dr := rds.NewFromConfig(env.For("us-east-1")), rds.NewFromConfig(env.For("us-west-2"))
	makeDB(t, ctx, src, "db", 200)
	if _, err := src.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("db"), DBSnapshotIdentifier: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	arn, err := env.ARN(ctx, "rds", "us-east-1", "snapshot:snap")
	if err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	if _, err := dr.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(arn),
		TargetDBSnapshotIdentifier: aws.String("snap-dr"), SourceRegion: aws.String("us-east-1")}); err != nil {
		t.Fatal(err)
	}
	if st, _ := snapshotState(t, ctx, dr, "snap-dr"); st != "pending" {
		t.Fatalf("a copy just asked for: %s", st)
	}
	total := k.Durations().DBSnapshotCopy.For(200)
	if total < 2*time.Hour {
		t.Fatalf("a 200 GB cross-region copy should take hours, the table says %v", total)
	}
	k.Advance(total / 2)
	if st, pct := snapshotState(t, ctx, dr, "snap-dr"); st != "copying" || pct < 45 || pct > 55 {
		t.Fatalf("half-way: %s %d%%", st, pct)
	}
	k.Advance(total / 2)
	if st, pct := snapshotState(t, ctx, dr, "snap-dr"); st != "available" || pct != 100 {
		t.Fatalf("after its time: %s %d%%", st, pct)
	}
}

func TestClockAuroraSnapshotAndRestoredClusterAreCreatingWithoutEndpoint(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := rds.NewFromConfig(env.For("us-east-1"))
	if _, err := api.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("aurora"), Engine: aws.String("aurora-mysql"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("secret123456")}); err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	if _, err := api.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("aurora"), DBClusterSnapshotIdentifier: aws.String("cs")}); err != nil {
		t.Fatal(err)
	}
	snaps, err := api.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("cs")})
	if err != nil || aws.ToString(snaps.DBClusterSnapshots[0].Status) != "creating" {
		t.Fatalf("new cluster snapshot: %v %v", snaps, err)
	}
	k.Advance(k.Durations().ClusterSnapshot.For(int(aws.ToInt32(snaps.DBClusterSnapshots[0].AllocatedStorage))))
	if _, err := api.RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{DBClusterIdentifier: aws.String("aurora-dr"),
		SnapshotIdentifier: aws.String("cs"), Engine: aws.String("aurora-mysql")}); err != nil {
		t.Fatal(err)
	}
	cl, err := api.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("aurora-dr")})
	if err != nil || aws.ToString(cl.DBClusters[0].Status) != "creating" || cl.DBClusters[0].Endpoint != nil {
		t.Fatalf("restored cluster: %s endpoint %q (%v)", aws.ToString(cl.DBClusters[0].Status), aws.ToString(cl.DBClusters[0].Endpoint), err)
	}
	k.Advance(k.Remaining("us-east-1", "db-cluster", "aurora-dr") - time.Second)
	if err := rds.NewDBClusterAvailableWaiter(api, func(o *rds.DBClusterAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).
		Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("aurora-dr")}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	cl, err = api.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("aurora-dr")})
	if err != nil || aws.ToString(cl.DBClusters[0].Endpoint) == "" {
		t.Fatalf("available cluster has no endpoint: %v", err)
	}
}

func TestClockRefusesToCopyOrRestoreASnapshotNotYetAvailable(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	src, dr := rds.NewFromConfig(env.For("us-east-1")), rds.NewFromConfig(env.For("us-west-2"))
	makeDB(t, ctx, src, "db", 20)
	k := p.EnableClock(realTime)
	if _, err := src.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("db"), DBSnapshotIdentifier: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	arn, err := env.ARN(ctx, "rds", "us-east-1", "snapshot:snap")
	if err != nil {
		t.Fatal(err)
	}
	copyIn := &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(arn), TargetDBSnapshotIdentifier: aws.String("snap-dr"), SourceRegion: aws.String("us-east-1")}
	if _, err := dr.CopyDBSnapshot(ctx, copyIn); apiCode(err) != "InvalidDBSnapshotState" {
		t.Fatalf("copy of a creating snapshot: %v", err)
	}
	restoreIn := &rds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("r"), DBSnapshotIdentifier: aws.String("snap")}
	if _, err := src.RestoreDBInstanceFromDBSnapshot(ctx, restoreIn); apiCode(err) != "InvalidDBSnapshotState" {
		t.Fatalf("restore from a creating snapshot: %v", err)
	}
	k.Advance(k.Durations().DBSnapshot.For(20))
	if _, err := dr.CopyDBSnapshot(ctx, copyIn); err != nil {
		t.Fatalf("copy once available: %v", err)
	}
	if _, err := dr.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("r"), DBSnapshotIdentifier: aws.String("snap-dr")}); apiCode(err) != "InvalidDBSnapshotState" {
		t.Fatalf("restore from a copy still copying: %v", err)
	}
	if _, err := src.RestoreDBInstanceFromDBSnapshot(ctx, restoreIn); err != nil {
		t.Fatalf("restore once available: %v", err)
	}
}
