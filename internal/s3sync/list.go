package s3sync

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// object is one listed key: what a listing says about it, no more.
type object struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	StorageClass string
	// maybeKMS: queued for a HEAD of the source first (see maybeKMS).
	maybeKMS bool
	// missing: verify found no replica of it.
	missing bool
}

// pagesAhead is how many pages a listing may run ahead of the merge: enough
// to hide a page's latency, few enough that memory stays flat (4,000 keys).
const pagesAhead = 4

// listing streams one bucket's keys in the order S3 returns them (UTF-8
// binary order) as pages over a channel. err is set before ch is closed.
type listing struct {
	bucket, region string
	ch             chan []object
	err            error
}

// startListing lists bucket in the background until done or ctx ends.
func startListing(ctx context.Context, api listAPI, bucket, region string) *listing {
	return startListingAfter(ctx, api, bucket, region, "")
}

// startListingAfter lists the keys of bucket that sort after after.
func startListingAfter(ctx context.Context, api listAPI, bucket, region, after string) *listing {
	l := &listing{bucket: bucket, region: region, ch: make(chan []object, pagesAhead)}
	go func() {
		defer close(l.ch)
		l.err = l.run(ctx, api, after)
	}()
	return l
}

func (l *listing) run(ctx context.Context, api listAPI, after string) error {
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(l.bucket),
		// Keys may hold characters XML 1.0 cannot carry; with url encoding S3
		// escapes them, and says so in the answer.
		EncodingType: types.EncodingTypeUrl,
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	for {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("list bucket %s: %s: %w", l.bucket, l.region, err)
		}
		decode := out.EncodingType == types.EncodingTypeUrl
		page := make([]object, 0, len(out.Contents))
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if decode {
				// S3's url encoding writes a space as '+', as a query string does.
				k, err := url.QueryUnescape(key)
				if err != nil {
					return fmt.Errorf("list bucket %s: %s: undecodable key %q: %w", l.bucket, l.region, key, err)
				}
				key = k
			}
			page = append(page, object{
				Key:          key,
				Size:         aws.ToInt64(o.Size),
				ETag:         aws.ToString(o.ETag),
				LastModified: aws.ToTime(o.LastModified),
				StorageClass: string(o.StorageClass),
			})
		}
		if len(page) > 0 {
			select {
			case l.ch <- page:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// cursor walks a listing one key at a time and checks that keys ascend: the
// merge is only right on sorted input, and a listing that breaks off must
// not look like a bucket that ends there (sync --delete would act on it).
type cursor struct {
	l    *listing
	page []object
	i    int
	prev string
	n    int64
	err  error
	done bool
}

func newCursor(l *listing) *cursor { return &cursor{l: l} }

// peek returns the current key, or nil at the end or on error (see err).
func (c *cursor) peek() *object {
	for !c.done && c.i >= len(c.page) {
		p, ok := <-c.l.ch
		if !ok {
			c.done = true
			c.err = c.l.err
			break
		}
		c.page, c.i = p, 0
	}
	if c.done {
		return nil
	}
	o := &c.page[c.i]
	if c.n > 0 && o.Key <= c.prev {
		c.done = true
		c.err = fmt.Errorf("list bucket %s: %s: keys out of order (%q after %q): cannot merge", c.l.bucket, c.l.region, o.Key, c.prev)
		return nil
	}
	return o
}

// next moves past the current key.
func (c *cursor) next() {
	c.prev = c.page[c.i].Key
	c.i++
	c.n++
	if c.i == len(c.page) {
		// Drop the page so that memory is not held while waiting.
		c.page, c.i = nil, 0
	}
}

// mergeFunc receives each key of the union in order: src and dst are nil
// where a side lacks the key. Returning an error stops the merge.
type mergeFunc func(src, dst *object) error

// merge walks both listings in key order. It fails if either listing fails,
// so that a partial listing is never taken for a complete one.
func merge(src, dst *cursor, f mergeFunc) error {
	for {
		s, d := src.peek(), dst.peek()
		if src.err != nil {
			return src.err
		}
		if dst.err != nil {
			return dst.err
		}
		switch {
		case s == nil && d == nil:
			return nil
		case d == nil || (s != nil && s.Key < d.Key):
			if err := f(s, nil); err != nil {
				return err
			}
			src.next()
		case s == nil || d.Key < s.Key:
			if err := f(nil, d); err != nil {
				return err
			}
			dst.next()
		default:
			if err := f(s, d); err != nil {
				return err
			}
			src.next()
			dst.next()
		}
	}
}
