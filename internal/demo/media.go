package demo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// mediaObject is one sample upload: a WordPress-style key and its bytes.
type mediaObject struct {
	Key         string
	ContentType string
	Body        []byte
}

// sampleMedia returns n media files with deterministic keys, sizes (1–24
// KiB) and bytes, so that every run of the demo copies and compares the
// same data.
func sampleMedia(n int) []mediaObject {
	kinds := []struct{ ext, ctype string }{
		{"jpg", "image/jpeg"}, {"png", "image/png"}, {"webp", "image/webp"}, {"pdf", "application/pdf"},
	}
	out := make([]mediaObject, n)
	for i := range out {
		rng := rand.New(rand.NewPCG(uint64(i), 0x70696c6f74))
		k := kinds[i%len(kinds)]
		body := make([]byte, 1024+rng.IntN(23*1024))
		for j := range body {
			body[j] = byte(rng.UintN(256))
		}
		out[i] = mediaObject{
			Key:         fmt.Sprintf("%d/%02d/upload-%04d.%s", 2019+i%6, 1+i%12, i, k.ext),
			ContentType: k.ctype,
			Body:        body,
		}
	}
	return out
}

// putMedia uploads the sample files with a few requests in flight; it
// returns the bytes written.
func putMedia(ctx context.Context, c s3API, bucket string, objs []mediaObject) (int64, error) {
	const workers = 16
	work := make(chan mediaObject)
	var (
		mu    sync.Mutex
		first error
		total int64
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(o.Key), Body: bytes.NewReader(o.Body),
					ContentType: aws.String(o.ContentType),
				})
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("put s3://%s/%s: %w", bucket, o.Key, err)
				}
				total += int64(len(o.Body))
				mu.Unlock()
			}
		}()
	}
	for _, o := range objs {
		select {
		case work <- o:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return total, first
}
