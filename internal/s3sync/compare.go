package s3sync

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// How two copies of a key are compared.
const (
	// CompareETag: sizes and ETags equal. Server-side copies keep the ETag of
	// a single-part object (its MD5) and of a multipart one copied in the
	// same part layout, so equal ETags mean equal bytes.
	CompareETag = "etag+size"
	// CompareModified: with SSE-KMS an ETag is no content hash and differs
	// between copies of the same bytes, so a replica is current when the
	// sizes are equal and it was written after the source version.
	CompareModified = "size+last-modified"
)

// kmsDefault reports whether bucket encrypts new objects with SSE-KMS by
// default. A bucket without an encryption configuration, or a server that
// does not implement the call, counts as not KMS.
func kmsDefault(ctx context.Context, api encryptionAPI, bucket string, log *slog.Logger) bool {
	_, kms, err := bucketKMSKey(ctx, api, bucket)
	if err != nil && log != nil {
		log.Debug("bucket encryption unknown; comparing by ETag", "bucket", bucket, "err", err)
	}
	return kms
}

// bucketKMSKey returns the default SSE-KMS key of bucket ("" for the AWS
// managed key) and whether the default is SSE-KMS at all.
func bucketKMSKey(ctx context.Context, api encryptionAPI, bucket string) (string, bool, error) {
	out, err := api.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil {
		if apiCode(err) == "ServerSideEncryptionConfigurationNotFoundError" {
			return "", false, nil
		}
		return "", false, err
	}
	if out.ServerSideEncryptionConfiguration == nil {
		return "", false, nil
	}
	for _, r := range out.ServerSideEncryptionConfiguration.Rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil {
			switch d.SSEAlgorithm {
			case types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse:
				return aws.ToString(d.KMSMasterKeyID), true, nil
			}
		}
	}
	return "", false, nil
}

// differs says why dst is not a current copy of src, or "" if it is.
func differs(mode string, src, dst *object) string {
	if src.Size != dst.Size {
		return fmt.Sprintf("size %d != %d", src.Size, dst.Size)
	}
	if mode == CompareModified {
		if dst.LastModified.Before(src.LastModified) {
			return fmt.Sprintf("source modified %s, after the replica (%s)",
				src.LastModified.UTC().Format("2006-01-02T15:04:05Z"), dst.LastModified.UTC().Format("2006-01-02T15:04:05Z"))
		}
		return ""
	}
	if src.ETag != dst.ETag {
		return fmt.Sprintf("etag %s != %s", src.ETag, dst.ETag)
	}
	return ""
}

// partsOf returns the part count in a multipart ETag ("…-3" → 3), or 0 for
// a single-part object.
func partsOf(etag string) int {
	etag = strings.Trim(etag, `"`)
	i := strings.LastIndexByte(etag, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(etag[i+1:])
	if err != nil || n < 1 {
		return 0
	}
	return n
}
