package recovery

import (
	"testing"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverStaysFailedOver is the split brain of the real-AWS review
// (finding 2): the primary dies, failover runs with the primary region (and
// in aws-cn from cn-northwest-1, Route 53's control plane) dead, then the
// primary's load balancer answers again. Route 53 must keep answering the
// DR load balancer until failback, and failover must make no Route 53
// call. moto evaluates no health check, so route53Model (test code) is the
// Route 53 data plane here, reading moto's stored records, checks and
// alarm states.
func TestFailoverStaysFailedOver(t *testing.T) {
	moto := testenv.Shared(t)
	for _, pair := range []struct{ primary, dr string }{
		{"cn-northwest-1", "cn-north-1"},
		{"us-east-1", "us-west-2"},
	} {
		t.Run(pair.primary+"->"+pair.dr, func(t *testing.T) {
			t.Parallel()
			acct := moto.NewAccount(t)
			sent, r53 := newRefusingRoute53(t, acct.URL)
			proxy, err := testenv.NewProxy(r53, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proxy.Close)
			env := promotingEnv(t, proxy.URL)
			model := newRoute53Model(testenv.AWS(t, acct.URL), pair.dr, sent)
			cfg := testConfig(t, pair.primary, pair.dr, spec.DNSFailoverRecords)
			ctx := ctxTimeout(t)
			seedProduction(t, env, cfg)
			res, err := Prepare(ctx, cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) == 0 {
				t.Error("prepare states no residual risk of the pin")
			}
			prod, drLB := cfg.Recover.DNS.PrimaryTarget, res.LoadBalancerDNS
			const zone, name = "example.com", "shop.example.com"
			if got := model.answer(t, zone, name); got != prod {
				t.Fatalf("prepared: %s answers %s, want production %s", name, got, prod)
			}

			model.setUp(prod, false)
			if got := model.answer(t, zone, name); got != drLB {
				t.Fatalf("primary dead: %s answers %s, want the DR load balancer %s", name, got, drLB)
			}
			proxy.KillRegion(cfg.Primary.Region)
			proxy.ResetCalls()
			store := openStore(t, cfg)
			g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
			if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
				t.Fatalf("failover: %v", err)
			}
			for _, c := range proxy.Calls() {
				if c.Service == "route53" || c.Region == cfg.Primary.Region {
					t.Fatalf("failover called %s %s in %s", c.Service, c.Action, c.Region)
				}
			}

			if st, err := PinState(ctx, env, cfg); err != nil || st != "ALARM" {
				t.Fatalf("pin after failover: %q %v", st, err)
			}
			// The old region comes back, its load balancer healthy again.
			proxy.ReviveRegion(cfg.Primary.Region)
			model.setUp(prod, true)
			if got := model.answer(t, zone, name); got != drLB {
				t.Fatalf("split brain: the primary answers again and %s sends users to %s, want the DR load balancer %s", name, got, drLB)
			}

			// RDS's ReplicaLag for failback's catch-up, which moto does not
			// publish (published past the proxy: it is not pilotlight's call).
			stopLag := publishReplicaLag(t, testenv.AWS(t, acct.URL), cfg.Primary.Region, nextFailbackDB(cfg))
			defer stopLag()
			j, err := run(t, ctx, store, cfg, mustGraph(t, NewFailback(cfg, env, Options{Wait: fastWait}).Graph), KindFailback)
			if err != nil {
				t.Fatalf("failback: %v", err)
			}
			home := outputsOf(j)[StepLoadBalancer]["lb_dns"]
			if st, err := PinState(ctx, env, cfg); err != nil || st != "OK" {
				t.Fatalf("pin after failback: %q %v", st, err)
			}
			if got := model.answer(t, zone, name); got != home || home == "" {
				t.Fatalf("after failback %s answers %s, want the primary's new load balancer %s", name, got, home)
			}
		})
	}
}

func mustGraph[G any](t testing.TB, f func() (G, error)) G {
	t.Helper()
	g, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return g
}
