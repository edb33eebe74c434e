package s3sync

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// refuseVersioning stands in for a bucket whose owner may not enable
// versioning (a bucket policy or SCP denying s3:PutBucketVersioning):
// moto enforces no permissions, so the refusal is simulated here.
type refuseVersioning struct{ bucketAPI }

func (refuseVersioning) PutBucketVersioning(context.Context, *s3.PutBucketVersioningInput, ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one naming %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not name %q", err, p)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	t.Run("source missing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "source bucket "+f.b.Source, "does not exist", "cn-northwest-1")
		_, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
		wantErr(t, err, "source bucket "+f.b.Source, "does not exist", "cn-northwest-1")
		_, err = Verify(f.ctx, f.env, f.cfg, f.b)
		wantErr(t, err, f.b.Source, "cn-northwest-1")
	})
	t.Run("source in the wrong region", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.dst, f.b.Source, "cn-north-1")
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "source bucket "+f.b.Source+" is in cn-north-1", "cn-northwest-1")
		_, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
		wantErr(t, err, "source bucket "+f.b.Source+" is in cn-north-1", "cn-northwest-1")
	})
	t.Run("replica missing and not to be created", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.src, f.b.Source, "cn-northwest-1")
		f.b.CreateReplica = false
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "replica bucket "+f.b.Replica, "does not exist", "cn-north-1", "create_replica")
		_, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
		wantErr(t, err, "replica bucket "+f.b.Replica, "does not exist", "cn-north-1")
	})
	t.Run("replica in another partition", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.src, f.b.Source, "cn-northwest-1")
		f.createBucket(newS3(f.env, "us-east-1", 0), f.b.Replica, "us-east-1")
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "replica bucket "+f.b.Replica+" is in us-east-1 (partition aws)", "cn-north-1 (partition aws-cn)", "never crosses partitions")
		_, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
		wantErr(t, err, "replica bucket "+f.b.Replica+" is in us-east-1", "never crosses partitions")
	})
	t.Run("DR region in another partition", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		cfg := *f.cfg
		cfg.DR.Region = "us-west-2" // spec.Load refuses this; callers building configs must not get past Setup either
		_, err := Setup(f.ctx, f.env, &cfg, f.b, false)
		wantErr(t, err, f.b.Source, "cn-northwest-1", f.b.Replica, "us-west-2", "never crosses partitions")
		_, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{DestRegion: "us-west-2"})
		wantErr(t, err, "us-west-2", "never crosses partitions")
	})
	t.Run("versioning refused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.src, f.b.Source, "cn-northwest-1")
		f.createBucket(f.dst, f.b.Replica, "cn-north-1")
		deps := newSetupDeps(f.env, f.cfg)
		deps.dst = refuseVersioning{deps.dst}
		_, err := runSetup(f.ctx, deps, f.cfg, f.b, false)
		wantErr(t, err, "versioning on replica bucket "+f.b.Replica+" (cn-north-1) was refused", "AccessDenied")
	})
	t.Run("source SSE-KMS without a replica key", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.src, f.b.Source, "cn-northwest-1")
		f.encryptWithKMS(f.src, f.b.Source, f.newKey("cn-northwest-1"))
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "source bucket "+f.b.Source+" (cn-northwest-1) encrypts with SSE-KMS", "replica_kms_key", "cn-north-1")
	})
	t.Run("replica key in the wrong region", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "cn-northwest-1", "cn-north-1")
		f.createBucket(f.src, f.b.Source, "cn-northwest-1")
		f.b.ReplicaKMSKey = f.newKey("cn-northwest-1") // a primary-region key
		_, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
		wantErr(t, err, "replica bucket "+f.b.Replica, f.b.ReplicaKMSKey, "cn-north-1")
	})
}

// newKey makes a KMS key in region and returns its ARN.
func (f *fixture) newKey(region string) string {
	f.t.Helper()
	out, err := kms.NewFromConfig(f.env.For(region)).CreateKey(f.ctx, &kms.CreateKeyInput{})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func (f *fixture) encryptWithKMS(api *s3.Client, bucket, key string) {
	f.t.Helper()
	_, err := api.PutBucketEncryption(f.ctx, &s3.PutBucketEncryptionInput{
		Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
				SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(key),
			},
		}}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
}
