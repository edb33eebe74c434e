package s3sync

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// archived reports whether a listed storage class needs a restore before
// its bytes can be read (and so copied). Glacier Instant Retrieval does not.
func archived(class string) bool {
	switch types.ObjectStorageClass(class) {
	case types.ObjectStorageClassGlacier, types.ObjectStorageClassDeepArchive:
		return true
	}
	return false
}

// kmsEncrypted reports whether an object's own encryption is SSE-KMS (or
// DSSE-KMS), whose ETag is no content hash.
func kmsEncrypted(sse types.ServerSideEncryption) bool {
	return sse == types.ServerSideEncryptionAwsKms || sse == types.ServerSideEncryptionAwsKmsDsse
}

// maybeKMS reports whether src and dst differ only as an SSE-KMS source
// and its copy do when compared by ETag: same size, different ETags, and a
// replica written after the source version. Only the source object's own
// encryption (a HEAD) tells that apart from a real difference: a bucket
// whose default is SSE-S3 may hold objects written with SSE-KMS.
func maybeKMS(src, dst *object) bool {
	return src.Size == dst.Size && src.ETag != dst.ETag && !dst.LastModified.Before(src.LastModified)
}

// sourceIsKMS HEADs key in bucket and reports whether it is SSE-KMS.
func sourceIsKMS(ctx context.Context, api objectAPI, bucket, key string) (bool, error) {
	h, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, err
	}
	return kmsEncrypted(h.ServerSideEncryption), nil
}

// lockAPI reads a bucket's Object Lock configuration.
type lockAPI interface {
	GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, optFns ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
}

// lockEnabled reports whether bucket has Object Lock. A bucket without a
// configuration, or a server that does not implement the call, has none.
func lockEnabled(ctx context.Context, api lockAPI, bucket string, log *slog.Logger) bool {
	out, err := api.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		if apiCode(err) != "ObjectLockConfigurationNotFoundError" && log != nil {
			log.Debug("object lock configuration unknown; taking it as off", "bucket", bucket, "err", err)
		}
		return false
	}
	return out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled
}

// Object Lock handling of a sync, from both buckets' configurations.
const (
	LockNone      = ""           // the source has no Object Lock
	LockCopied    = "copied"     // retention and legal holds are copied
	LockNotCopied = "not-copied" // the replica has no Object Lock, so it cannot hold them
)

// objectLock is the retention and legal hold of one source object.
type objectLock struct {
	mode  types.ObjectLockMode
	until *time.Time
	hold  types.ObjectLockLegalHoldStatus
}

func lockOf(h *s3.HeadObjectOutput) objectLock {
	return objectLock{mode: h.ObjectLockMode, until: h.ObjectLockRetainUntilDate, hold: h.ObjectLockLegalHoldStatus}
}

// errArchived marks a copy refused because the source is archived (an
// Intelligent-Tiering archive tier does not show in a listing).
var errArchived = errors.New("archived")
