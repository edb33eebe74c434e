package cost

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// BenchmarkMeasureReplica lists a 3,000-object replica bucket on moto (three
// pages): the time is moto's listing; memory must not grow with the keys,
// since the listing is streamed and only per-class sums are kept.
func BenchmarkMeasureReplica(b *testing.B) {
	benchOnce.Do(func() { benchMeter, benchCfg, benchErr = seedBenchReplica(b) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	m, cfg, ctx := benchMeter, benchCfg, context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		got, err := m.Measure(ctx, cfg, Want{Replicas: true, Transfer: true}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if got.ReplicaGB["STANDARD_IA"].Value.Cmp(Frac(2000*10, 1<<30)) != 0 {
			b.Fatalf("IA: %v", got.ReplicaGB["STANDARD_IA"].Value)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(benchObjects, "objects/op")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}

// The bucket is filled once per test binary: the benchmark function runs
// again for each b.N, and bucket names are global.
var (
	benchOnce  sync.Once
	benchMeter *Meter
	benchCfg   *spec.Config
	benchErr   error
)

const benchObjects = 3000

func seedBenchReplica(b *testing.B) (*Meter, *spec.Config, error) {
	moto := testenv.Shared(b)
	// moto's default account: an Account proxy closes with the first b.
	env := testenv.AWS(b, moto.URL)
	ctx := context.Background()
	c := env.S3("cn-north-1", 0)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench-replica"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "cn-north-1"}}); err != nil {
		return nil, nil, err
	}
	sem := make(chan struct{}, 8)
	errs := make(chan error, benchObjects)
	for i := 0; i < benchObjects; i++ {
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem }()
			class := s3types.StorageClassStandardIa
			if i%3 == 0 {
				class = s3types.StorageClassStandard
			}
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench-replica"),
				Key: aws.String(fmt.Sprintf("media/%05d.jpg", i)), Body: strings.NewReader("0123456789"), StorageClass: class})
			errs <- err
		}(i)
	}
	for i := 0; i < benchObjects; i++ {
		if err := <-errs; err != nil {
			return nil, nil, err
		}
	}
	cfg := &spec.Config{Stack: "bench"}
	cfg.Protect.Buckets = []spec.Bucket{{Name: "media", Replica: "bench-replica", StorageClass: "STANDARD_IA"}}
	return NewMeter(env, "cn-north-1", nil), cfg, nil
}

// BenchmarkComputeSeed is the pure arithmetic: exact rationals cost little.
func BenchmarkComputeSeed(b *testing.B) {
	table := DefaultPrices()
	in := SeedExample()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compute(in, table); err != nil {
			b.Fatal(err)
		}
	}
}
