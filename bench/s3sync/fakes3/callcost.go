package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// callCost measures this process's CPU per CopyObject: through
// aws-sdk-go-v2 as pilotlight builds its client (awsenv.S3), or as a bare
// signed-nothing HTTP PUT with the copy header. Nothing else runs in the
// process, so the figure is the SDK's own floor per object, which no sync
// code on top of it can go below; the difference to raw is what the SDK's
// middleware stack costs. Keys go unescaped: the bench's keys are plain
// ASCII paths.
func callCost(args []string) error {
	fs := flag.NewFlagSet("callcost", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint")
	src := fs.String("src", "", "source bucket, as seeded")
	dstFlag := fs.String("dst", "", "replica bucket, made by the caller (default: one made and dropped here)")
	n := fs.Int("n", 1<<30, "copies at most (default: the whole bucket)")
	mode := fs.String("mode", "sdk", "sdk or raw")
	inFlight := fs.Int("inflight", 64, "copies in flight")
	gogc := fs.Int("gogc", 100, "GC percent for the run")
	_ = fs.Parse(args)
	debug.SetGCPercent(*gogc)
	ctx := context.Background()
	env, err := awsenv.Load(ctx, awsenv.Options{
		Endpoint: *endpoint, Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""), StandardRetry: true,
	})
	if err != nil {
		return err
	}
	c := env.S3("us-west-2", *inFlight)
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(*src)})
	for p.HasMorePages() && len(keys) < *n {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	keys = keys[:min(*n, len(keys))]
	dst := *dstFlag
	if dst == "" {
		dst = fmt.Sprintf("callcost-%d", time.Now().UnixNano())
		admin := func(op string) error {
			resp, err := http.Get(*endpoint + "/__admin/" + op + "?bucket=" + dst)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}
		if err := admin("create"); err != nil {
			return err
		}
		defer admin("drop") //nolint:errcheck // the server is the benchmark's own
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *inFlight}}
	var next atomic.Int64
	var failed atomic.Int64
	c0, t0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				key := keys[i]
				var err error
				if *mode == "raw" {
					err = rawCopy(hc, *endpoint, *src, dst, key)
				} else {
					_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
						Bucket: aws.String(dst), Key: aws.String(key),
						CopySource:        aws.String(*src + "/" + key),
						MetadataDirective: types.MetadataDirectiveCopy,
					})
				}
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	used := cpuTime() - c0
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"mode": *mode, "gogc": *gogc, "copies": len(keys), "failed": failed.Load(), "in_flight": *inFlight,
		"seconds":          time.Since(t0).Seconds(),
		"client_cpu_us_op": float64(used.Microseconds()) / float64(max(1, len(keys))),
	})
}

func rawCopy(hc *http.Client, endpoint, src, dst, key string) error {
	req, err := http.NewRequest(http.MethodPut, endpoint+"/"+dst+"/"+key, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Copy-Source", src+"/"+key)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("copy %s: %s", key, resp.Status)
	}
	return nil
}

// cpuTime is the CPU this process used so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
