package recovery

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailbackDatabasePaths: the database's way home depends on what it
// is. An engine RDS cannot replicate across regions, and an Aurora
// cluster, take a snapshot before the freeze and a last one after; an
// encrypted DB or cluster needs a key of the primary region, and with one
// it is replicated (or its snapshots copied) encrypted with that key.
func TestFailbackDatabasePaths(t *testing.T) {
	moto := testenv.Shared(t)
	for _, c := range []struct {
		name, engine string
		encrypted    bool
		key          bool
		mode, err    string
	}{
		{name: "sqlserver", engine: "sqlserver-ex", mode: "snapshot"},
		{name: "encrypted-without-key", engine: "mysql", encrypted: true, err: "recover.database.failback_kms_key"},
		{name: "encrypted-with-key", engine: "postgres", encrypted: true, key: true, mode: "replica"},
		{name: "aurora", engine: "aurora-mysql", mode: "snapshot"},
		{name: "aurora-encrypted-without-key", engine: "aurora-postgresql", encrypted: true, err: "recover.database.failback_kms_key"},
		{name: "aurora-encrypted-with-key", engine: "aurora-mysql", encrypted: true, key: true, mode: "snapshot"},
		// A key for an unencrypted cluster snapshot's copy is an error on
		// AWS (moto takes it): failback sends none.
		{name: "aurora-unencrypted-with-key", engine: "aurora-mysql", key: true, mode: "snapshot"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := recordRDS(t, moto.NewAccount(t).URL)
			env := promotingEnv(t, rec.URL)
			cluster := strings.HasPrefix(c.engine, "aurora")
			cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
			if cluster {
				cfg = auroraConfig(t, "us-east-1", "us-west-2")
			}
			ctx := ctxTimeout(t)
			var drKey *string
			if c.encrypted {
				k, err := kms.NewFromConfig(env.For(cfg.DR.Region)).CreateKey(ctx, &kms.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				drKey = k.KeyMetadata.Arn
			}
			id := newNames(cfg, "").db()
			if cluster {
				// What failover restored in DR: a cluster and its writer.
				if _, err := rds.NewFromConfig(env.For(cfg.DR.Region)).CreateDBCluster(ctx, &rds.CreateDBClusterInput{
					DBClusterIdentifier: aws.String(id), Engine: aws.String(c.engine), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
					StorageEncrypted: aws.Bool(c.encrypted), KmsKeyId: drKey,
				}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := rds.NewFromConfig(env.For(cfg.DR.Region)).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
				DBInstanceIdentifier: aws.String(id), Engine: aws.String(c.engine), DBInstanceClass: aws.String("db.t3.medium"),
				AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
				StorageEncrypted: aws.Bool(c.encrypted), KmsKeyId: drKey,
			}); err != nil {
				t.Fatal(err)
			}
			if c.key {
				k, err := kms.NewFromConfig(env.For(cfg.Primary.Region)).CreateKey(ctx, &kms.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Recover.Database.FailbackKMSKey = aws.ToString(k.KeyMetadata.Arn)
			}
			stop := publishReplicaLag(t, env, cfg.Primary.Region, nextFailbackDB(cfg))
			defer stop()
			f := NewFailback(cfg, env, Options{Wait: fastWait})
			// The database's part of the graph: catch up, freeze (no DR app
			// here), final catch-up, and the intermediates dropped.
			g, err := runbook.New(
				runbook.Step{ID: StepCatchUpDB, Run: f.runCatchUpDB},
				runbook.Step{ID: StepFreeze, Needs: []string{StepCatchUpDB}, Run: f.runFreeze},
				runbook.Step{ID: StepFinalDB, Needs: []string{StepFreeze}, Run: f.runFinalDB},
				runbook.Step{ID: StepDropSnapshots, Needs: []string{StepFinalDB}, Run: f.runDropSnapshots},
			)
			if err != nil {
				t.Fatal(err)
			}
			j, err := run(t, ctx, openStore(t, cfg), cfg, g, KindFailback)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("failback of an encrypted DB without a key: %v, want an error naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := outputsOf(j)
			if got := out[StepCatchUpDB]["mode"]; got != c.mode {
				t.Fatalf("mode %q, want %q", got, c.mode)
			}
			home := rds.NewFromConfig(env.For(cfg.Primary.Region))
			switch c.mode {
			case "snapshot":
				first, final := out[StepCatchUpDB]["snapshot"], out[StepFinalDB]["snapshot"]
				if first == "" || final == "" {
					t.Fatalf("no snapshot copied back: %v", out)
				}
				// The first copy is dropped by now: its copy call says how it
				// was encrypted.
				for _, call := range rec.calls() {
					if call.Region == cfg.Primary.Region && strings.HasPrefix(call.Action, "CopyDB") && c.key && c.encrypted && call.Params["KmsKeyId"] != cfg.Recover.Database.FailbackKMSKey {
						t.Fatalf("%s with key %q, want the primary key %s", call.Action, call.Params["KmsKeyId"], cfg.Recover.Database.FailbackKMSKey)
					}
				}
				for _, snap := range []string{final} {
					var key *string
					var encrypted bool
					if cluster {
						s, err := home.DescribeDBClusterSnapshots(context.Background(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(snap)})
						if err != nil || len(s.DBClusterSnapshots) != 1 {
							t.Fatalf("cluster snapshot %q not copied back to %s: %v", snap, cfg.Primary.Region, err)
						}
						key, encrypted = s.DBClusterSnapshots[0].KmsKeyId, aws.ToBool(s.DBClusterSnapshots[0].StorageEncrypted)
					} else {
						s, err := home.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)})
						if err != nil || len(s.DBSnapshots) != 1 {
							t.Fatalf("snapshot %q not copied back to %s: %v", snap, cfg.Primary.Region, err)
						}
						key, encrypted = s.DBSnapshots[0].KmsKeyId, aws.ToBool(s.DBSnapshots[0].Encrypted)
					}
					if c.key && c.encrypted && (!encrypted || aws.ToString(key) != cfg.Recover.Database.FailbackKMSKey) {
						t.Fatalf("copy %s in %s encrypted=%v with %q, want the primary key %s", snap, cfg.Primary.Region, encrypted, aws.ToString(key), cfg.Recover.Database.FailbackKMSKey)
					}
				}
				for _, call := range rec.calls() {
					if call.Action == "CopyDBClusterSnapshot" && (call.Params["KmsKeyId"] != "") != c.encrypted {
						t.Fatalf("copy of a cluster snapshot (encrypted: %v) with KmsKeyId %q", c.encrypted, call.Params["KmsKeyId"])
					}
				}
				if first == final {
					t.Fatal("the last snapshot, after the freeze, must be a new one")
				}
				// Dropped: both snapshots in DR and the first copy home.
				for _, left := range []struct{ region, id string }{{cfg.DR.Region, first}, {cfg.DR.Region, final}, {cfg.Primary.Region, first}} {
					api := rds.NewFromConfig(env.For(left.region))
					var err error
					if cluster {
						_, err = api.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(left.id)})
					} else {
						_, err = api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(left.id)})
					}
					if err == nil || !strings.Contains(err.Error(), "NotFound") {
						t.Fatalf("snapshot %s left in %s after failback: %v", left.id, left.region, err)
					}
				}
				if got := out[StepDropSnapshots]["kept"]; got != final {
					t.Fatalf("drop step kept %q, want the last copy %s", got, final)
				}
			case "replica":
				db, err := home.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(nextFailbackDB(cfg))})
				if err != nil || len(db.DBInstances) != 1 {
					t.Fatalf("replica: %v", err)
				}
				if got := aws.ToString(db.DBInstances[0].KmsKeyId); c.key && got != cfg.Recover.Database.FailbackKMSKey {
					t.Fatalf("replica encrypted with %q, want the primary key %s", got, cfg.Recover.Database.FailbackKMSKey)
				}
			}
		})
	}
}
