// Package rto_test benchmarks the failover of the reference stack (the
// seed's WordPress, examples/wordpress, as `pilotlight demo` builds it) on
// AWS's clock (internal/emulator, docs/aws-time.md): its RTO at AWS
// durations, its critical path, the seed's manual sequence for the same
// stack, and how far `plan failover`'s prediction, made before the
// disaster, is from the RTO measured on the clock, for a 20 GB and a
// 500 GB database. The figures are modelled from the clock's table of AWS
// durations, not measured on AWS. Run:
//
//	go test -run '^$' -bench RTO -benchtime 1x ./bench/rto/
//
// Figures go to docs/benchmarks.md, "Failover RTO at AWS durations".
package rto_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/demo"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// minute is how long one AWS minute lasts here: slow enough that the
// emulator's own answers (milliseconds) add little AWS time, fast enough
// that a 500 GB failover takes seconds.
const minute = 200 * time.Millisecond

func BenchmarkRTO(b *testing.B) {
	for _, gb := range []int{20, 500} {
		b.Run(fmt.Sprintf("db=%dGB", gb), func(b *testing.B) {
			var rto, path time.Duration
			var steps []string
			var took map[string]time.Duration
			var pred *recovery.Prediction
			var errs []float64
			for i := 0; i < b.N; i++ {
				r, p, s, t, pr := failover(b, gb)
				rto, path = rto+r, path+p
				steps, took, pred = s, t, pr
				errs = append(errs, (pr.Seconds-r.Seconds())/r.Seconds())
			}
			// Means over the runs; the steps logged are the last run's.
			rto, path = rto/time.Duration(b.N), path/time.Duration(b.N)
			worst := 0.0
			for _, e := range errs {
				if math.Abs(e) > math.Abs(worst) {
					worst = e
				}
			}
			seedSteps := emulator.DefaultDurations().SeedSequence(gb)
			seed := emulator.SeedTotal(seedSteps)
			b.ReportMetric(rto.Minutes(), "rto-aws-min")
			b.ReportMetric(path.Minutes(), "critical-path-aws-min")
			b.ReportMetric(seed.Minutes(), "seed-manual-aws-min")
			b.ReportMetric(pred.Duration().Minutes(), "predicted-aws-min")
			b.ReportMetric(100*worst, "worst-prediction-error-%")
			var parts []string
			for _, s := range steps {
				parts = append(parts, fmt.Sprintf("%s %s", s, took[s].Round(time.Second)))
			}
			b.Logf("%d GB: RTO %s, critical path %s (%s); the seed's manual sequence %s",
				gb, rto.Round(time.Second), path.Round(time.Second), strings.Join(parts, " → "), seed.Round(time.Second))
			b.Logf("  plan failover predicted %s (critical path %s; %s): %+.1f%% against the mean measured RTO, worst run %+.1f%%",
				pred.Duration().Round(time.Second), strings.Join(pred.CriticalPath, " → "), pred.Basis,
				100*(pred.Seconds-rto.Seconds())/rto.Seconds(), 100*worst)
			if math.Abs(worst) > 0.10 {
				b.Errorf("%d GB: plan failover's prediction is %+.1f%% off the RTO measured on AWS's clock (target: within 10%%)", gb, 100*worst)
			}
			for _, s := range seedSteps {
				b.Logf("  seed: %-30s %8s  %s", s.Name, s.Took.Round(time.Second), s.Why)
			}
		})
	}
}

// failover builds the reference stack with a database of gb GB, protects
// it (prepare and one backup cycle, made before the clock starts: they
// are long done on a disaster day), makes the primary region unreachable,
// then fails over on AWS's clock. It returns the RTO, the critical path,
// its steps, and each step's duration, all at AWS durations, and what
// `plan failover` predicted before the disaster.
func failover(b *testing.B, gb int) (time.Duration, time.Duration, []string, map[string]time.Duration, *recovery.Prediction) {
	b.Helper()
	ctx := context.Background()
	acct := testenv.Shared(b).NewAccount(b)
	proxy, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	o := testenv.Options(proxy.URL)
	o.PollScale = float64(minute) / float64(time.Minute)
	env, err := awsenv.Load(ctx, *o)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	// S3 names are global in moto, across accounts too.
	suffix := "-" + strings.ToLower(testenv.RandomAccountID())
	cfg, err := demo.WriteConfig(dir, demo.ConfigOptions{BucketSuffix: suffix})
	if err != nil {
		b.Fatal(err)
	}
	prod, err := demo.BuildProduction(ctx, env, cfg, demo.BuildOptions{Objects: 1, DatabaseGB: gb})
	if err != nil {
		b.Fatal(err)
	}
	if cfg, err = demo.WriteConfig(dir, demo.ConfigOptions{PrimaryTarget: prod.LoadBalancerDNS, BucketSuffix: suffix}); err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(ctx, cfg, env)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	deps := operation.Deps{Store: store, Stack: cfg.Stack}
	if _, _, err := operation.Prepare(ctx, deps, cfg, env); err != nil {
		b.Fatal(err)
	}
	if rep, err := points.Backup(ctx, env, cfg, points.BackupOptions{Only: []string{cfg.Protect.Databases[0].ID, cfg.Protect.Images[0].Name}}); err != nil {
		b.Fatalf("backup: %v (%+v)", err, rep)
	}

	// The prediction a user reads ahead of the disaster: `plan failover`,
	// no drill yet, so from the table of AWS durations and the point's size.
	pred := planFailover(ctx, b, o, cfg.File)

	k := proxy.EnableClock(emulator.ClockOptions{Minute: minute})
	proxy.KillRegion(cfg.Primary.Region)
	b.ResetTimer()
	out, err := operation.Recover(ctx, deps, cfg, env, operation.KindFailover, operation.RecoverOptions{GraphOptions: operation.GraphOptions{Parallelism: 8}})
	b.StopTimer()
	if err != nil {
		b.Fatalf("failover on AWS's clock: %v", err)
	}
	j := out.Journal
	took := map[string]time.Duration{}
	for _, s := range j.Steps {
		took[s.ID] = k.AWS(s.End.Sub(s.Start))
	}
	g, err := recovery.New(cfg, env, recovery.Options{}).Graph()
	if err != nil {
		b.Fatal(err)
	}
	path, steps := g.CriticalPath(took)
	return k.AWS(j.End.Sub(j.Start)), path, steps, took, pred
}

// planFailover runs `pilotlight plan failover -o json` on the config and
// returns its predicted RTO.
func planFailover(ctx context.Context, b *testing.B, o *awsenv.Options, cfgFile string) *recovery.Prediction {
	b.Helper()
	var out, errb bytes.Buffer
	if code := cli.RunApp(ctx, &cli.App{Stdout: &out, Stderr: &errb, EnvOptions: o}, []string{"plan", "failover", "--config", cfgFile, "-o", "json"}); code != 0 {
		b.Fatalf("plan failover: exit %d: %s", code, errb.String())
	}
	var plan struct {
		Predicted *recovery.Prediction `json:"predicted_rto"`
	}
	if err := json.Unmarshal(out.Bytes(), &plan); err != nil || plan.Predicted == nil {
		b.Fatalf("plan failover: no predicted RTO (%v): %s", err, out.String())
	}
	return plan.Predicted
}
