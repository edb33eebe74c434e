package s3sync

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxCopyObject is the largest object one CopyObject may copy (5 GiB); it is
// also the largest single PUT, so only multipart objects can exceed it.
const maxCopyObject = 5 << 30

// partsInFlight bounds UploadPartCopy calls per multipart object.
const partsInFlight = 8

// copier copies one object server-side from the source to the replica.
type copier struct {
	src, dst             objectAPI
	srcBucket, dstBucket string
	srcRegion, dstRegion string
	storageClass         types.StorageClass
	kmsKey               string // replica SSE-KMS key; "" keeps the replica bucket's default
	mode                 string // CompareETag or CompareModified
	// gate spaces copies to throttled prefixes and retries throttling; the
	// copy calls pass callOpts so that the SDK leaves throttling to it.
	gate     *gate
	callOpts []func(*s3.Options)
	// lock copies each object's retention and legal hold (both buckets
	// have Object Lock); it costs a HEAD per object.
	lock bool
}

// copy picks the method that keeps the source's ETag: CopyObject for an
// object written in one PUT, UploadPartCopy in the source's own part layout
// for a multipart object (a multipart ETag is the MD5 of its parts' MD5s,
// so only the same layout gives the same ETag).
func (c *copier) copy(ctx context.Context, o object) error {
	if !c.lock {
		return c.copyBytes(ctx, o)
	}
	// A copy carries neither retention nor a legal hold over: they are read
	// from the source and set on the replica once it exists. A separate call
	// rather than copy headers, because S3 asks for a checksum of a write
	// that sets retention.
	h, err := c.src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.srcBucket), Key: aws.String(o.Key)})
	if err != nil {
		return c.copyErr(o.Key, fmt.Errorf("head: %w", err))
	}
	if err := c.copyBytes(ctx, o); err != nil {
		return err
	}
	return c.applyLock(ctx, o.Key, lockOf(h))
}

// applyLock sets l on the replica of key.
func (c *copier) applyLock(ctx context.Context, key string, l objectLock) error {
	if l.mode != "" && l.until != nil {
		if _, err := c.dst.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
			Bucket: aws.String(c.dstBucket), Key: aws.String(key),
			Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionMode(l.mode), RetainUntilDate: l.until},
		}); err != nil {
			return fmt.Errorf("copy s3://%s/%s (%s): set retention %s until %s on s3://%s (%s): %w",
				c.srcBucket, key, c.srcRegion, l.mode, l.until.UTC().Format(time.RFC3339), c.dstBucket, c.dstRegion, err)
		}
	}
	if l.hold == types.ObjectLockLegalHoldStatusOn {
		if _, err := c.dst.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
			Bucket: aws.String(c.dstBucket), Key: aws.String(key),
			LegalHold: &types.ObjectLockLegalHold{Status: l.hold},
		}); err != nil {
			return fmt.Errorf("copy s3://%s/%s (%s): set legal hold on s3://%s (%s): %w", c.srcBucket, key, c.srcRegion, c.dstBucket, c.dstRegion, err)
		}
	}
	return nil
}

// copyBytes copies o's bytes, metadata and tags.
func (c *copier) copyBytes(ctx context.Context, o object) error {
	if n := partsOf(o.ETag); n > 0 || o.Size > maxCopyObject {
		return c.copyMultipart(ctx, o, n)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(c.dstBucket),
		Key:               aws.String(o.Key),
		CopySource:        aws.String(copySource(c.srcBucket, o.Key)),
		CopySourceIfMatch: aws.String(o.ETag),
		MetadataDirective: types.MetadataDirectiveCopy,
		TaggingDirective:  types.TaggingDirectiveCopy,
		StorageClass:      c.storageClass,
	}
	if c.kmsKey != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(c.kmsKey)
	}
	if _, err := gated(ctx, c.gate, o.Key, true, func() (*s3.CopyObjectOutput, error) {
		return c.dst.CopyObject(ctx, in, c.callOpts...)
	}); err != nil {
		return c.copyErr(o.Key, err)
	}
	return nil
}

func (c *copier) copyErr(key string, err error) error {
	// AWS documents ObjectNotInActiveTierError for a COPY of an archived
	// object (and moto answers it); InvalidObjectState comes on other paths.
	if code := apiCode(err); code == "InvalidObjectState" || code == "ObjectNotInActiveTierError" {
		return fmt.Errorf("copy s3://%s/%s (%s): %w (Glacier storage class or archive tier): restore it first, then re-run: %w", c.srcBucket, key, c.srcRegion, errArchived, err)
	}
	if httpStatus(err) == http.StatusPreconditionFailed || apiCode(err) == "PreconditionFailed" {
		return fmt.Errorf("copy s3://%s/%s (%s) to s3://%s (%s): source changed during the sync; a re-run copies the new version: %w",
			c.srcBucket, key, c.srcRegion, c.dstBucket, c.dstRegion, err)
	}
	return fmt.Errorf("copy s3://%s/%s (%s) to s3://%s (%s): %w", c.srcBucket, key, c.srcRegion, c.dstBucket, c.dstRegion, err)
}

// copyMultipart copies o with UploadPartCopy. It first assumes the layout
// every SDK uploader makes (equal parts, a shorter last one), read from
// part 1's size; if the resulting ETag shows otherwise it reads every
// part's size and copies again.
func (c *copier) copyMultipart(ctx context.Context, o object, parts int) error {
	// The object's headers come from a plain HEAD: not every server repeats
	// them on a HEAD of one part (moto does not).
	head, err := c.src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.srcBucket), Key: aws.String(o.Key)})
	if err != nil {
		return c.copyErr(o.Key, fmt.Errorf("head: %w", err))
	}
	var sizes []int64
	if parts > 0 {
		first, err := c.src.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(c.srcBucket), Key: aws.String(o.Key), PartNumber: aws.Int32(1),
		})
		if err != nil {
			return c.copyErr(o.Key, fmt.Errorf("head part 1: %w", err))
		}
		if n := int(aws.ToInt32(first.PartsCount)); n > 0 {
			parts = n
		}
		sizes = uniformLayout(o.Size, parts, aws.ToInt64(first.ContentLength))
		if sizes == nil {
			if sizes, err = c.exactLayout(ctx, o, parts); err != nil {
				return err
			}
		}
	} else {
		// Larger than CopyObject allows and not multipart: only a non-AWS
		// server has such objects; any layout will do, the ETag cannot match.
		sizes = evenLayout(o.Size)
	}
	tagging, err := c.tagging(ctx, o.Key)
	if err != nil {
		return err
	}
	etag, err := c.uploadParts(ctx, o, head, tagging, sizes)
	if err != nil {
		return err
	}
	// An SSE-KMS object's ETag is no hash of its parts, whatever the layout.
	if c.mode == CompareETag && parts > 0 && etag != o.ETag && !kmsEncrypted(head.ServerSideEncryption) {
		exact, err := c.exactLayout(ctx, o, parts)
		if err != nil {
			return err
		}
		if etag, err = c.uploadParts(ctx, o, head, tagging, exact); err != nil {
			return err
		}
		if etag != o.ETag {
			return c.copyErr(o.Key, fmt.Errorf("replica ETag %s differs from source ETag %s after copying in the source's part layout", etag, o.ETag))
		}
	}
	return nil
}

// uniformLayout returns n-1 parts of first bytes and a last part of the
// rest, or nil if no such layout adds up to size.
func uniformLayout(size int64, n int, first int64) []int64 {
	if n < 1 || first <= 0 {
		return nil
	}
	last := size - int64(n-1)*first
	if last <= 0 || last > first {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = first
	}
	out[n-1] = last
	return out
}

// evenLayout splits size into at most 10,000 parts of at least 64 MiB.
func evenLayout(size int64) []int64 {
	part := int64(64 << 20)
	for size/part >= 10000 {
		part *= 2
	}
	var out []int64
	for size > 0 {
		p := min(part, size)
		out = append(out, p)
		size -= p
	}
	return out
}

// exactLayout reads each part's size with HeadObject?partNumber.
func (c *copier) exactLayout(ctx context.Context, o object, n int) ([]int64, error) {
	sizes := make([]int64, n)
	err := forEach(ctx, n, partsInFlight, func(ctx context.Context, i int) error {
		h, err := c.src.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(c.srcBucket), Key: aws.String(o.Key), PartNumber: aws.Int32(int32(i + 1)),
		})
		if err != nil {
			return c.copyErr(o.Key, fmt.Errorf("head part %d: %w", i+1, err))
		}
		sizes[i] = aws.ToInt64(h.ContentLength)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var total int64
	for _, s := range sizes {
		total += s
	}
	if total != o.Size {
		return nil, c.copyErr(o.Key, fmt.Errorf("parts add up to %d bytes, the object has %d (changed during the sync?)", total, o.Size))
	}
	return sizes, nil
}

// tagging returns the source object's tags as CreateMultipartUpload wants
// them (a query string); CopyObject copies tags itself.
func (c *copier) tagging(ctx context.Context, key string) (string, error) {
	out, err := c.src.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(c.srcBucket), Key: aws.String(key)})
	if err != nil {
		return "", c.copyErr(key, fmt.Errorf("get tags: %w", err))
	}
	v := url.Values{}
	for _, t := range out.TagSet {
		v.Set(aws.ToString(t.Key), aws.ToString(t.Value))
	}
	return v.Encode(), nil
}

// uploadParts runs one multipart copy and returns the new object's ETag.
// On failure the upload is aborted so that no orphan parts are billed.
func (c *copier) uploadParts(ctx context.Context, o object, head *s3.HeadObjectOutput, tagging string, sizes []int64) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:             aws.String(c.dstBucket),
		Key:                aws.String(o.Key),
		ContentType:        head.ContentType,
		CacheControl:       head.CacheControl,
		ContentDisposition: head.ContentDisposition,
		ContentEncoding:    head.ContentEncoding,
		ContentLanguage:    head.ContentLanguage,
		Metadata:           head.Metadata,
		StorageClass:       c.storageClass,
	}
	if t, err := http.ParseTime(aws.ToString(head.ExpiresString)); err == nil {
		in.Expires = aws.Time(t)
	}
	if tagging != "" {
		in.Tagging = aws.String(tagging)
	}
	if c.kmsKey != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(c.kmsKey)
	}
	up, err := gated(ctx, c.gate, o.Key, false, func() (*s3.CreateMultipartUploadOutput, error) {
		return c.dst.CreateMultipartUpload(ctx, in, c.callOpts...)
	})
	if err != nil {
		return "", c.copyErr(o.Key, fmt.Errorf("create multipart upload: %w", err))
	}
	abort := func() {
		// The caller's context may be the reason for failing: abort anyway.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = c.dst.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(c.dstBucket), Key: aws.String(o.Key), UploadId: up.UploadId,
		})
	}
	done := make([]types.CompletedPart, len(sizes))
	offsets := make([]int64, len(sizes))
	for i := 1; i < len(sizes); i++ {
		offsets[i] = offsets[i-1] + sizes[i-1]
	}
	err = forEach(ctx, len(sizes), partsInFlight, func(ctx context.Context, i int) error {
		part := &s3.UploadPartCopyInput{
			Bucket:            aws.String(c.dstBucket),
			Key:               aws.String(o.Key),
			UploadId:          up.UploadId,
			PartNumber:        aws.Int32(int32(i + 1)),
			CopySource:        aws.String(copySource(c.srcBucket, o.Key)),
			CopySourceIfMatch: aws.String(o.ETag),
			CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", offsets[i], offsets[i]+sizes[i]-1)),
		}
		out, err := gated(ctx, c.gate, o.Key, false, func() (*s3.UploadPartCopyOutput, error) {
			return c.dst.UploadPartCopy(ctx, part, c.callOpts...)
		})
		if err != nil {
			return c.copyErr(o.Key, fmt.Errorf("copy part %d: %w", i+1, err))
		}
		var etag *string
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: etag}
		return nil
	})
	if err != nil {
		abort()
		return "", err
	}
	fin, err := gated(ctx, c.gate, o.Key, false, func() (*s3.CompleteMultipartUploadOutput, error) {
		return c.dst.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(c.dstBucket), Key: aws.String(o.Key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		}, c.callOpts...)
	})
	if err != nil {
		abort()
		return "", c.copyErr(o.Key, fmt.Errorf("complete multipart upload: %w", err))
	}
	return aws.ToString(fin.ETag), nil
}

// forEach runs f(0..n-1) with at most limit at once and returns the first
// error; after an error no new call starts.
func forEach(ctx context.Context, n, limit int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, limit)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// copySource writes bucket/key for x-amz-copy-source, percent-encoding
// every byte but unreserved characters and '/': servers differ on '+'
// (space or plus), and an escaped plus means a plus to all of them.
func copySource(bucket, key string) string {
	var b strings.Builder
	b.Grow(len(bucket) + 1 + len(key)*3)
	b.WriteString(bucket)
	b.WriteByte('/')
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(key); i++ {
		ch := key[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '_', ch == '.', ch == '~', ch == '/':
			b.WriteByte(ch)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
		}
	}
	return b.String()
}
