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
// is. An engine RDS cannot replicate across regions takes a snapshot
// before the freeze and a last one after; an encrypted DB needs a key of
// the primary region, and with one it is replicated encrypted.
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
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := promotingEnv(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
			ctx := ctxTimeout(t)
			in := &rds.CreateDBInstanceInput{
				DBInstanceIdentifier: aws.String(newNames(cfg, "").db()), Engine: aws.String(c.engine), DBInstanceClass: aws.String("db.t3.medium"),
				AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
			}
			if c.encrypted {
				k, err := kms.NewFromConfig(env.For(cfg.DR.Region)).CreateKey(ctx, &kms.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				in.StorageEncrypted, in.KmsKeyId = aws.Bool(true), k.KeyMetadata.Arn
			}
			if _, err := rds.NewFromConfig(env.For(cfg.DR.Region)).CreateDBInstance(ctx, in); err != nil {
				t.Fatal(err)
			}
			if c.key {
				k, err := kms.NewFromConfig(env.For(cfg.Primary.Region)).CreateKey(ctx, &kms.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Recover.Database.FailbackKMSKey = aws.ToString(k.KeyMetadata.Arn)
			}
			stop := publishReplicaLag(t, env, cfg.Primary.Region, "shop-shop-db-fb")
			defer stop()
			f := NewFailback(cfg, env, Options{Wait: fastWait})
			// The database's part of the graph: catch up, freeze (no DR app
			// here), final catch-up.
			g, err := runbook.New(
				runbook.Step{ID: StepCatchUpDB, Run: f.runCatchUpDB},
				runbook.Step{ID: StepFreeze, Needs: []string{StepCatchUpDB}, Run: f.runFreeze},
				runbook.Step{ID: StepFinalDB, Needs: []string{StepFreeze}, Run: f.runFinalDB},
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
				for _, snap := range []string{out[StepCatchUpDB]["snapshot"], out[StepFinalDB]["snapshot"]} {
					if _, err := home.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)}); snap == "" || err != nil {
						t.Fatalf("snapshot %q not copied back to %s: %v", snap, cfg.Primary.Region, err)
					}
				}
				if out[StepCatchUpDB]["snapshot"] == out[StepFinalDB]["snapshot"] {
					t.Fatal("the last snapshot, after the freeze, must be a new one")
				}
			case "replica":
				db, err := home.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("shop-shop-db-fb")})
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
