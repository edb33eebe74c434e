package recovery_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestStatusFlips: ready after prepare, a verify and a drill; not ready
// (exit 1, naming the check) when the DR KMS key is scheduled for deletion,
// when CRR is removed, and when the newest DR copy ages past its target.
func TestStatusFlips(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	ctx := context.Background()
	base := recovery.TestConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	key, err := kms.NewFromConfig(env.For(base.DR.Region)).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kms.NewFromConfig(env.For(base.DR.Region)).CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/shop-dr"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(base.File)
	withKey := strings.Replace(string(src), "keep: { primary: 3, dr: 3 } }", "keep: { primary: 3, dr: 3 }, dr_kms_key: alias/shop-dr }", 1)
	if withKey == string(src) {
		t.Fatal("config mutation did not apply")
	}
	if err := os.WriteFile(base.File, []byte(withKey), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(base.File)
	if err != nil {
		t.Fatal(err)
	}
	recovery.SeedProduction(t, env, cfg)
	if code, out, errOut := runCLI(t, acct.URL, "prepare", "--config", cfg.File); code != 0 {
		t.Fatalf("prepare: %s %s", out, errOut)
	}
	if code, out, errOut := runCLI(t, acct.URL, "drill", "--config", cfg.File, "--yes"); code != 0 {
		t.Fatalf("drill: %s %s", out, errOut)
	}
	if code, out, errOut := runCLI(t, acct.URL, "replicate", "verify", "--config", cfg.File); code != 0 {
		t.Fatalf("replicate verify: %s %s", out, errOut)
	}

	status := func() (int, string) {
		code, out, errOut := runCLI(t, acct.URL, "status", "--config", cfg.File)
		return code, out + errOut
	}
	if code, out := status(); code != 0 || !strings.Contains(out, "READY") {
		t.Fatalf("status of a prepared, drilled stack: %d\n%s", code, out)
	}

	// 1. The DR KMS key goes.
	k := kms.NewFromConfig(env.For(cfg.DR.Region))
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if code, out := status(); code != 1 || !strings.Contains(out, "FAIL shop-db") || !strings.Contains(out, "DR KMS key usable") {
		t.Fatalf("status with the DR key pending deletion: %d\n%s", code, out)
	}
	if _, err := k.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if code, out := status(); code != 0 {
		t.Fatalf("status after the key came back: %d\n%s", code, out)
	}

	// 2. CRR is removed from the source bucket.
	s3c := s3.NewFromConfig(env.For(cfg.Primary.Region), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String(cfg.Protect.Buckets[0].Source)}); err != nil {
		t.Fatal(err)
	}
	if code, out := status(); code != 1 || !strings.Contains(out, "replication rule enabled") {
		t.Fatalf("status without CRR: %d\n%s", code, out)
	}
	if _, err := s3sync.Setup(ctx, env, cfg, cfg.Protect.Buckets[0], false); err != nil {
		t.Fatal(err)
	}

	// 3. The newest DR copy ages past its target. moto cannot age a
	// snapshot; the point's time is its pilotlight:created tag, so the test
	// moves that tag back ten hours, as if backups had stopped then.
	p, err := points.NewestDR(ctx, env, cfg, "shop-db")
	if err != nil {
		t.Fatal(err)
	}
	r := rds.NewFromConfig(env.For(cfg.DR.Region))
	old := time.Now().Add(-10 * time.Hour).UTC().Format(time.RFC3339)
	if _, err := r.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(p.ARN), Tags: []rdstypes.Tag{{Key: aws.String(tags.Created), Value: aws.String(old)}}}); err != nil {
		t.Fatal(err)
	}
	code, out := status()
	if code != 1 || !strings.Contains(out, "RPO within target") || !strings.Contains(out, "over the 4h0m0s target") {
		t.Fatalf("status with a 10h-old copy: %d\n%s", code, out)
	}
}
