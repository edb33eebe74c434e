package s3sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// kmsETags makes moto's listing show what AWS's does for SSE-KMS objects:
// an ETag that is no MD5 of the bytes (moto keeps the MD5). The ETag keeps
// a multipart object's part count, as AWS's does. This is a simulation in
// test code; moto's objects, encryption headers and copies are real.
type kmsETags struct {
	*s3.Client
	bucket string
	kms    map[string]bool
}

func (k kmsETags) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out, err := k.Client.ListObjectsV2(ctx, in, opts...)
	if err != nil || aws.ToString(in.Bucket) != k.bucket {
		return out, err
	}
	for i, o := range out.Contents {
		if !k.kms[aws.ToString(o.Key)] {
			continue
		}
		etag := strings.Trim(aws.ToString(o.ETag), `"`)
		suffix := ""
		if j := strings.LastIndexByte(etag, '-'); j >= 0 {
			suffix = etag[j:]
		}
		sum := sha256.Sum256([]byte("kms:" + etag))
		out.Contents[i].ETag = aws.String(`"` + hex.EncodeToString(sum[:16]) + suffix + `"`)
	}
	return out, nil
}

// SSE-KMS objects in a bucket whose default is SSE-S3 are compared by their
// own encryption: copied once (multipart too), then equal on every run.
func TestSyncKMSObjectsInSSES3Bucket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	for _, bk := range []struct {
		api    *s3.Client
		bucket string
	}{{f.src, f.b.Source}, {f.dst, f.b.Replica}} {
		if _, err := bk.api.PutBucketEncryption(f.ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(bk.bucket),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
			}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	key := f.newKey("us-east-1")
	kmsPut := func(in *s3.PutObjectInput) {
		in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(key)
	}
	f.put("plain.jpg", []byte("sse-s3 bytes"))
	f.put("kms.jpg", []byte("kms bytes"), kmsPut)
	body := randomBytes(11 << 20)
	up, err := f.src.CreateMultipartUpload(f.ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(f.b.Source), Key: aws.String("kms-video.mp4"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(key),
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, r := range [][2]int{{0, 5 << 20}, {5 << 20, 10 << 20}, {10 << 20, 11 << 20}} {
		out, err := f.src.UploadPart(f.ctx, &s3.UploadPartInput{
			Bucket: aws.String(f.b.Source), Key: aws.String("kms-video.mp4"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(string(body[r[0]:r[1]])),
		})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := f.src.CompleteMultipartUpload(f.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(f.b.Source), Key: aws.String("kms-video.mp4"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		t.Fatal(err)
	}
	if h, err := f.src.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Source), Key: aws.String("kms.jpg")}); err != nil || h.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
		t.Fatalf("moto does not report the object's SSE-KMS, which this test relies on: %v %v", h, err)
	}
	src := kmsETags{Client: f.src, bucket: f.b.Source, kms: map[string]bool{"kms.jpg": true, "kms-video.mp4": true}}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}

	first, err := runSync(f.ctx, src, f.dst, p, SyncOptions{})
	if err != nil || first.Copied != 3 || first.Compared != CompareETag {
		t.Fatalf("first sync: %+v %v", first, err)
	}
	if got := f.get(f.dst, f.b.Replica, "kms-video.mp4"); string(got) != string(body) {
		t.Fatal("multipart SSE-KMS copy differs from its source")
	}
	again, err := runSync(f.ctx, src, f.dst, p, SyncOptions{})
	if err != nil || again.Copied != 0 || again.Skipped != 3 {
		t.Fatalf("second sync copied SSE-KMS objects again: %+v %v", again, err)
	}
	v, err := runVerify(f.ctx, src, f.dst, p, false, VerifyOptions{})
	if err != nil || !v.Converged || v.DifferentCount != 0 || v.KMSChecked != 2 {
		t.Fatalf("verify: %+v %v", v, err)
	}

	// A real change is still seen: the source rewritten after its copy.
	f.put("kms.jpg", []byte("rewritten kms bytes"), kmsPut)
	third, err := runSync(f.ctx, src, f.dst, p, SyncOptions{})
	if err != nil || third.Copied != 1 {
		t.Fatalf("sync after a change: %+v %v", third, err)
	}
}

// Objects in Glacier or Deep Archive are reported and skipped: the sync and
// the verify succeed, and say which keys need a restore.
func TestSyncSkipsArchivedObjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	f.put("2019/old.jpg", []byte("cold"), func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassGlacier })
	f.put("2018/older.jpg", []byte("colder"), func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassDeepArchive })
	f.put("2026/new.jpg", []byte("warm"))

	res, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
	if err != nil || res.Failed != 0 || res.Copied != 1 || res.Archived != 2 {
		t.Fatalf("sync with archived objects: %+v %v", res, err)
	}
	if strings.Join(res.ArchivedKeys, ",") != "2018/older.jpg,2019/old.jpg" {
		t.Fatalf("archived keys reported: %v", res.ArchivedKeys)
	}
	v, err := Verify(f.ctx, f.env, f.cfg, f.b)
	if err != nil || !v.Converged || v.MissingCount != 0 || v.ArchivedCount != 2 {
		t.Fatalf("verify with archived objects: %+v %v", v, err)
	}
}

// Object Lock retention and legal holds are copied when the replica has
// Object Lock; when it has none the copy goes on and says so.
func TestSyncCopiesObjectLock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "us-east-1", "us-west-2")
	for _, bk := range []struct {
		api            *s3.Client
		bucket, region string
	}{{f.src, f.b.Source, "us-east-1"}, {f.dst, f.b.Replica, "us-west-2"}} {
		in := &s3.CreateBucketInput{Bucket: aws.String(bk.bucket), ObjectLockEnabledForBucket: aws.Bool(true)}
		if bk.region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(bk.region)}
		}
		if _, err := bk.api.CreateBucket(f.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	f.put("contract.pdf", []byte("signed"), func(in *s3.PutObjectInput) {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeGovernance, aws.Time(until)
		in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	})
	f.put("plain.jpg", []byte("no lock"))

	res, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
	if err != nil || res.Copied != 2 || res.Lock != LockCopied {
		t.Fatalf("sync between Object Lock buckets: %+v %v", res, err)
	}
	h, err := f.dst.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Replica), Key: aws.String("contract.pdf")})
	if err != nil {
		t.Fatal(err)
	}
	if h.ObjectLockMode != types.ObjectLockModeGovernance || !aws.ToTime(h.ObjectLockRetainUntilDate).Equal(until) ||
		h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("replica lock: mode %q until %v hold %q", h.ObjectLockMode, h.ObjectLockRetainUntilDate, h.ObjectLockLegalHoldStatus)
	}

	// A replica without Object Lock cannot hold them: copied all the same.
	plain := f.b
	plain.Replica = f.b.Replica + "-nolock"
	f.createBucket(f.dst, plain.Replica, "us-west-2")
	res, err = Sync(f.ctx, f.env, f.cfg, plain, SyncOptions{})
	if err != nil || res.Copied != 2 || res.Lock != LockNotCopied {
		t.Fatalf("sync to a replica without Object Lock: %+v %v", res, err)
	}
}
