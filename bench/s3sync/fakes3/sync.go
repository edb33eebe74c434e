package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"runtime/pprof"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// syncCmd runs internal/s3sync's back-fill in this process, with pool
// settings the CLI does not expose yet (-workers 0: the adaptive pool), so
// the script can time it beside `pilotlight replicate sync`.
func syncCmd(args []string) error {
	fs := flag.NewFlagSet("sync", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint")
	src := fs.String("src", "", "source bucket")
	dst := fs.String("dst", "", "replica bucket")
	workers := fs.Int("workers", 0, "copies in flight; 0 adapts")
	start := fs.Int("start", 0, "adaptive pool: copies in flight at first (0: the default)")
	adjust := fs.Duration("adjust", 0, "adaptive pool: resize period (0: the default)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the sync here")
	_ = fs.Parse(args)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	env, err := awsenv.Load(ctx, awsenv.Options{
		Endpoint:      *endpoint,
		Credentials:   credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		StandardRetry: true,
	})
	if err != nil {
		return err
	}
	cfg := &spec.Config{Stack: "bench", Primary: spec.Region{Region: "us-east-1"}, DR: spec.Region{Region: "us-west-2"}}
	b := spec.Bucket{Name: "media", Source: *src, Replica: *dst}
	res, err := s3sync.Sync(ctx, env, cfg, b, s3sync.SyncOptions{Workers: *workers, StartWorkers: *start, AdjustEvery: *adjust})
	if res != nil {
		_ = json.NewEncoder(os.Stdout).Encode(res)
	}
	return err
}
