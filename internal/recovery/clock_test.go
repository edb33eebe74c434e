package recovery

import (
	"testing"
	"time"

	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/emulator"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// clockMinute is the scale of the recovery tests on AWS's clock: a
// 20-minute failover lasts a second.
const clockMinute = 50 * time.Millisecond

// clockWait polls about once per AWS minute at that scale: the product's
// own policy (2 s, backing off to 30 s) would stand for 40 AWS minutes.
var clockWait = &waitPolicy{First: 10 * time.Millisecond, Max: clockMinute, Timeout: time.Minute}

// onClock is a moto account behind a fault proxy with production seeded
// (points made as moto makes them, at once), then AWS's clock turned on:
// everything the recovery makes from here takes AWS's time.
func onClock(t *testing.T, primary, dr, mode string) (*spec.Config, *testenv.Proxy, *emulator.Clock, *awsenv.Env) {
	t.Helper()
	proxy, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// promotingEnv: failback promotes a read replica, which moto keeps
	// naming its source (see promotingEndpoint).
	env := promotingEnv(t, proxy.URL)
	cfg := testConfig(t, primary, dr, mode)
	seedProduction(t, env, cfg)
	k := proxy.EnableClock(emulator.ClockOptions{Minute: clockMinute})
	return cfg, proxy, k, env
}

// awsTook is how long step id took in AWS time.
func awsTook(k *emulator.Clock, j *runbook.Journal, id string) time.Duration {
	s, ok := j.Step(id)
	if !ok {
		return 0
	}
	return k.AWS(s.End.Sub(s.Start))
}

// TestFailoverOnAWSClock: prepare, failover and teardown of the reference
// stack while every resource takes AWS's time. The failover must wait out
// the restore (no endpoint until then), the cache, the load balancer's
// provisioning, the NAT gateway and the targets' health checks; teardown
// must wait out the deletions that hold the network.
func TestFailoverOnAWSClock(t *testing.T) {
	for _, mode := range []string{spec.DNSUpsert, spec.DNSFailoverRecords} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cfg, _, k, env := onClock(t, "us-east-1", "us-west-2", mode)
			ctx := ctxTimeout(t)
			if _, err := Prepare(ctx, cfg, env); err != nil {
				t.Fatalf("prepare on AWS's clock: %v", err)
			}
			store := openStore(t, cfg)
			r := New(cfg, env, Options{Wait: clockWait})
			g, err := r.Graph()
			if err != nil {
				t.Fatal(err)
			}
			// When the load-balancer step says done, the ALB it made must
			// route: no longer `provisioning`.
			var lbStates []string
			events := func(e runbook.Event) {
				if e.Step != StepLoadBalancer || e.Phase != runbook.PhaseDone || mode != spec.DNSUpsert {
					return
				}
				lbs, err := elb.NewFromConfig(env.For(cfg.DR.Region)).DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
				if err != nil {
					t.Error(err)
					return
				}
				for _, lb := range lbs.LoadBalancers {
					lbStates = append(lbStates, string(lb.State.Code))
				}
			}
			start := time.Now()
			j, err := (&runbook.Runner{Store: store, Parallelism: 8, Events: events}).Run(ctx, g, cfg.Stack, KindFailover, nil)
			if err != nil {
				t.Fatalf("failover on AWS's clock: %v", err)
			}
			took := k.AWS(time.Since(start))
			if mode == spec.DNSUpsert && (len(lbStates) != 1 || lbStates[0] != "active") {
				t.Fatalf("the load-balancer step was done with the ALB %v, want it active", lbStates)
			}
			d := k.Durations()
			out := outputsOf(j)
			if out[StepDatabase]["db_host"] == "" || out[StepApp]["healthy"] != "2" {
				t.Fatalf("failover outputs: database %v, app %v", out[StepDatabase], out[StepApp])
			}
			// The restore of the 20 GB point bounds the failover from below.
			if min := d.DBRestore.For(20); took < min*9/10 {
				t.Fatalf("failover took %v at AWS durations, less than the restore alone (%v)", took, min)
			}
			t.Logf("failover: %v at AWS durations (database %v, cache %v, load balancer %v, egress %v, app %v)", took.Round(time.Second),
				awsTook(k, j, StepDatabase).Round(time.Second), awsTook(k, j, StepCache).Round(time.Second), awsTook(k, j, StepLoadBalancer).Round(time.Second),
				awsTook(k, j, StepEgress).Round(time.Second), awsTook(k, j, StepApp).Round(time.Second))

			tg, err := r.TeardownGraph(TeardownOptions{Force: true, SkipFinalSnapshot: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover); err != nil {
				t.Fatalf("teardown on AWS's clock: %v", err)
			}
			if c := counts(t, env, cfg.DR.Region); c["db"] != 0 || c["cache"] != 0 || c["asg"] != 0 || c["nat"] != 0 {
				t.Fatalf("DR region after teardown: %v", c)
			}
		})
	}
}

// TestDrillAndFailbackOnAWSClock: a drill and its teardown, then a
// failover and the failback to the primary, all on AWS's clock. The
// failback waits out a snapshot of the DR database, its copy home and a
// restore there.
func TestDrillAndFailbackOnAWSClock(t *testing.T) {
	t.Parallel()
	cfg, _, k, env := onClock(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	ctx := ctxTimeout(t)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	drill := New(cfg, env, Options{Kind: KindDrill, Wait: clockWait})
	g, _ := drill.Graph()
	if _, err := run(t, ctx, store, cfg, g, KindDrill); err != nil {
		t.Fatalf("drill on AWS's clock: %v", err)
	}
	tg, _ := drill.TeardownGraph(TeardownOptions{})
	if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindDrill); err != nil {
		t.Fatalf("drill teardown on AWS's clock: %v", err)
	}
	if c := counts(t, env, cfg.DR.Region); c["asg"] != 0 || c["cache"] != 0 {
		t.Fatalf("drill left resources: %v", c)
	}

	g, _ = New(cfg, env, Options{Wait: clockWait}).Graph()
	if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
		t.Fatalf("failover on AWS's clock: %v", err)
	}
	fg, err := NewFailback(cfg, env, Options{Wait: clockWait}).Graph()
	if err != nil {
		t.Fatal(err)
	}
	stopLag := publishReplicaLag(t, env, cfg.Primary.Region, nextFailbackDB(cfg))
	defer stopLag()
	start := time.Now()
	if _, err := run(t, ctx, store, cfg, fg, KindFailback); err != nil {
		t.Fatalf("failback on AWS's clock: %v", err)
	}
	took := k.AWS(time.Since(start))
	d := k.Durations()
	// Snapshot in DR, copy home, restore there: none can be skipped.
	if min := d.DBSnapshot.For(20) + d.DBSnapshotCopy.For(20) + d.DBRestore.For(20); took < min*9/10 {
		t.Fatalf("failback took %v at AWS durations, less than snapshot + copy + restore (%v)", took, min)
	}
	t.Logf("failback: %v at AWS durations", took.Round(time.Second))
	if c := counts(t, env, cfg.Primary.Region); c["asg"] != 1 || c["lb"] != 1 {
		t.Fatalf("primary after failback: %v", c)
	}
}
