// Command fakes3 is the S3 side of bench/s3sync: an in-memory S3 server
// (gofakes3), a latency proxy in front of it (internal/testenv's fault
// proxy with one Latency rule), and the data-set tools the script needs.
// It is a benchmark aid, never part of pilotlight.
//
//	fakes3 serve  -ready FILE [-max 90m]               in-memory S3; admin: /__admin/{create,drop,stat}?bucket=
//	fakes3 proxy  -target URL -latency 30ms -ready FILE counts requests: /__bench/calls[?reset=1]
//	                                                   SlowDown storm: /__bench/storm?seconds=30&ratio=0.2
//	fakes3 seed   -endpoint URL -bucket B -n N -min 1024 -max 1048576 [-big 5 -bigsize 67108864] [-seed 1]
//	fakes3 mutate -endpoint URL -bucket B -every 100 -offset K
//	fakes3 list   -endpoint URL -bucket A -bucket B     lists both at once, prints JSON timing
//	fakes3 sync   -endpoint URL -src A -dst B [-workers 0] internal/s3sync's back-fill in-process (0: adaptive pool)
//	fakes3 callcost -endpoint URL -src A [-mode sdk|raw] [-n 10000] client CPU per CopyObject, SDK or bare HTTP
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: fakes3 serve|proxy|seed|mutate|list|sync|callcost [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "proxy":
		err = proxy(args)
	case "seed":
		err = seed(args)
	case "mutate":
		err = mutate(args)
	case "list":
		err = list(args)
	case "sync":
		err = syncCmd(args)
	case "callcost":
		err = callCost(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		log.Fatalf("fakes3 %s: %v", cmd, err)
	}
}

// listen opens a loopback port and writes its URL to the ready file, so the
// script learns the port without racing for it.
func listen(ready string) (net.Listener, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	url := "http://" + l.Addr().String()
	return l, url, os.WriteFile(ready, []byte(url+"\n"), 0o644)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	ready := fs.String("ready", "", "file to write the URL to")
	maxRun := fs.Duration("max", 90*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(false), gofakes3.WithTimeSkewLimit(0))
	s3h := faker.Server()
	mux := http.NewServeMux()
	// Admin calls bypass S3 so that a fresh replica costs nothing to make and
	// an old one's memory is freed at once.
	mux.HandleFunc("/__admin/create", func(w http.ResponseWriter, r *http.Request) {
		b := r.URL.Query().Get("bucket")
		_ = backend.ForceDeleteBucket(b)
		if err := backend.CreateBucket(b); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("/__admin/drop", func(w http.ResponseWriter, r *http.Request) {
		_ = backend.ForceDeleteBucket(r.URL.Query().Get("bucket"))
	})
	mux.HandleFunc("/__admin/stat", func(w http.ResponseWriter, r *http.Request) {
		var n, size int64
		page := gofakes3.ListBucketPage{MaxKeys: 1000}
		for {
			res, err := backend.ListBucket(r.URL.Query().Get("bucket"), nil, page)
			if err != nil {
				http.Error(w, err.Error(), 404)
				return
			}
			for _, c := range res.Contents {
				n++
				size += c.Size
			}
			if !res.IsTruncated {
				break
			}
			page.Marker, page.HasMarker = res.NextMarker, true
		}
		_ = json.NewEncoder(w).Encode(map[string]int64{"objects": n, "bytes": size})
	})
	mux.Handle("/", s3h)
	l, _, err := listen(*ready)
	if err != nil {
		return err
	}
	go func() { time.Sleep(*maxRun); log.Print("serve: -max reached"); os.Exit(3) }()
	return http.Serve(l, mux)
}

func proxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	target := fs.String("target", "", "server URL")
	latency := fs.Duration("latency", 30*time.Millisecond, "added to every request")
	ready := fs.String("ready", "", "file to write the URL to")
	maxRun := fs.Duration("max", 90*time.Minute, "exit after this long whatever happens")
	_ = fs.Parse(args)
	// The proxy forwards through http.DefaultTransport, which keeps 2 idle
	// connections per host: with hundreds of requests in flight every other
	// one would open a new connection. Keep them all.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 4096, 4096
	}
	p, err := testenv.NewProxy(*target, 1)
	if err != nil {
		return err
	}
	p.AddRule(testenv.Rule{Latency: *latency})
	var calls, refused atomic.Int64
	// A SlowDown storm: for its duration a share of requests is answered
	// 503 SlowDown before reaching the server, as S3 does while it
	// partitions a new bucket's prefixes.
	var stormMu sync.Mutex
	var stormUntil time.Time
	var stormRatio float64
	rnd := rand.New(rand.NewSource(7))
	mux := http.NewServeMux()
	mux.HandleFunc("/__bench/storm", func(w http.ResponseWriter, r *http.Request) {
		secs, _ := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
		ratio, _ := strconv.ParseFloat(r.URL.Query().Get("ratio"), 64)
		stormMu.Lock()
		stormUntil, stormRatio = time.Now().Add(time.Duration(secs*float64(time.Second))), ratio
		stormMu.Unlock()
		fmt.Fprintln(w, refused.Swap(0))
	})
	mux.HandleFunc("/__bench/calls", func(w http.ResponseWriter, r *http.Request) {
		n := calls.Load()
		if r.URL.Query().Has("reset") {
			calls.Store(0)
			p.ResetCalls() // the fault proxy records every call; drop them between runs
		}
		fmt.Fprintln(w, n)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		stormMu.Lock()
		refuse := time.Now().Before(stormUntil) && rnd.Float64() < stormRatio
		stormMu.Unlock()
		if refuse {
			refused.Add(1)
			time.Sleep(*latency) // a refusal costs a round trip too
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		p.ServeHTTP(w, r)
	})
	l, _, err := listen(*ready)
	if err != nil {
		return err
	}
	go func() { time.Sleep(*maxRun); log.Print("proxy: -max reached"); os.Exit(3) }()
	return http.Serve(l, mux)
}

func client(endpoint string, conns int) *s3.Client {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
		}},
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// key spreads objects over about 650 prefixes, like a WordPress uploads
// tree (year/month/day).
func key(i int) string {
	p := i % 650
	return fmt.Sprintf("wp-content/uploads/%04d/%02d/%02d/img-%07d.jpg", 2015+p/(12*28)%10, 1+p/28%12, 1+p%28, i)
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint (the server, not the proxy)")
	bucket := fs.String("bucket", "", "bucket to fill (created)")
	n := fs.Int("n", 10000, "objects")
	lo := fs.Int("min", 1024, "smallest object")
	hi := fs.Int("max", 1<<20, "largest object (sizes are log-uniform)")
	big := fs.Int("big", 0, "extra large objects")
	bigSize := fs.Int("bigsize", 64<<20, "size of each large object")
	seedv := fs.Int64("seed", 1, "random seed")
	_ = fs.Parse(args)
	ctx := context.Background()
	c := client(*endpoint, 64)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		return err
	}
	rnd := rand.New(rand.NewSource(*seedv))
	// One random buffer sliced at random offsets: distinct content per
	// object without generating gigabytes of randomness.
	pool := make([]byte, max(*hi, *bigSize)+4096)
	rnd.Read(pool)
	type job struct {
		key  string
		body []byte
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(j.key),
					Body: bytes.NewReader(j.body), ContentType: aws.String("image/jpeg")}); err != nil {
					log.Printf("put %s: %v", j.key, err)
					failed.Add(1)
				}
			}
		}()
	}
	var total int64
	logLo, logHi := math.Log(float64(*lo)), math.Log(float64(*hi))
	for i := 0; i < *n; i++ {
		size := int(math.Exp(logLo + rnd.Float64()*(logHi-logLo)))
		off := rnd.Intn(4096)
		total += int64(size)
		jobs <- job{key(i), pool[off : off+size]}
	}
	for i := 0; i < *big; i++ {
		off := rnd.Intn(4096)
		total += int64(*bigSize)
		jobs <- job{fmt.Sprintf("wp-content/video/big-%02d.mp4", i), pool[off : off+*bigSize]}
	}
	close(jobs)
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d puts failed", failed.Load())
	}
	fmt.Printf("{\"objects\": %d, \"bytes\": %d}\n", *n+*big, total)
	return nil
}

func mutate(args []string) error {
	fs := flag.NewFlagSet("mutate", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint (the server)")
	bucket := fs.String("bucket", "", "bucket")
	n := fs.Int("n", 100000, "objects in the bucket (keys 0..n-1 as seed made them)")
	every := fs.Int("every", 100, "change one key in this many")
	offset := fs.Int("offset", 0, "which one of each group")
	_ = fs.Parse(args)
	ctx := context.Background()
	c := client(*endpoint, 64)
	var wg sync.WaitGroup
	jobs := make(chan int, 64)
	var changed, failed atomic.Int64
	stamp := time.Now().UnixNano()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf("changed %d at %d", i, stamp)
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key(i)), Body: bytes.NewReader([]byte(body))}); err != nil {
					failed.Add(1)
					continue
				}
				changed.Add(1)
			}
		}()
	}
	for i := *offset % *every; i < *n; i += *every {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d puts failed", failed.Load())
	}
	fmt.Printf("{\"changed\": %d}\n", changed.Load())
	return nil
}

// list is the baseline for the incremental and verify targets: both
// buckets listed at once, 1,000 keys a page, nothing else.
func list(args []string) error {
	fs := flag.NewFlagSet("list", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint (the proxy)")
	var buckets multi
	fs.Var(&buckets, "bucket", "bucket to list (repeat)")
	_ = fs.Parse(args)
	ctx := context.Background()
	c := client(*endpoint, 8)
	start := time.Now()
	counts := make([]int64, len(buckets))
	errs := make([]error, len(buckets))
	var wg sync.WaitGroup
	for i, b := range buckets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				counts[i] += int64(len(out.Contents))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"seconds": time.Since(start).Seconds(), "keys": counts})
}

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }
