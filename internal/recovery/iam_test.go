package recovery_test

import (
	"context"
	"testing"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestRecoveryCallsAreGranted records, through the fault proxy, every AWS
// call that a failover, a drill with its teardown, a failback and a
// failover teardown make, and checks that `iam-policy --for failover`
// grants each one: the policy is tested against what the code really does.
func TestRecoveryCallsAreGranted(t *testing.T) {
	moto := testenv.Shared(t)
	for _, mode := range []string{spec.DNSUpsert, spec.DNSFailoverRecords} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			acct := moto.NewAccount(t)
			proxy, err := testenv.NewProxy(acct.URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proxy.Close)
			// moto keeps a promoted replica's source (failback waits for
			// it to go): the rewrite sits in front of the recording proxy.
			env := testenv.AWS(t, recovery.PromotingEndpoint(t, proxy.URL))
			cfg := recovery.TestConfig(t, "cn-northwest-1", "cn-north-1", mode)
			ctx := context.Background()
			recovery.SeedProduction(t, env, cfg)
			if _, err := recovery.Prepare(ctx, cfg, env); err != nil {
				t.Fatal(err)
			}
			store, err := state.Open(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			proxy.ResetCalls()
			runner := &runbook.Runner{Store: store}
			runGraph := func(g *runbook.Graph, err error, kind string) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := runner.Run(ctx, g, cfg.Stack, kind, nil); err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
			}
			drill := recovery.New(cfg, env, recovery.Options{Kind: recovery.KindDrill})
			g, err := drill.Graph()
			runGraph(g, err, recovery.KindDrill)
			g, err = drill.TeardownGraph(recovery.TeardownOptions{})
			runGraph(g, err, "teardown-drill")
			g, err = recovery.New(cfg, env, recovery.Options{}).Graph()
			runGraph(g, err, recovery.KindFailover)
			acctID, err := env.Account(ctx, cfg.DR.Region)
			if err != nil {
				t.Fatal(err)
			}
			check := func(verbs ...string) {
				t.Helper()
				doc, err := iampolicy.For(cfg, acctID, verbs...)
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, c := range proxy.Calls() {
					for _, action := range iampolicy.Required(c.Service, c.Action) {
						if seen[action] {
							continue
						}
						seen[action] = true
						if !doc.Allows(action) {
							t.Errorf("recovery called %s %s (%s): not granted by iam-policy --for %v", c.Service, c.Action, action, verbs)
						}
					}
				}
				if len(seen) < 20 {
					t.Fatalf("only %d distinct actions recorded: the proxy saw too little", len(seen))
				}
			}
			check(iampolicy.Failover)

			// Failback runs while every region answers and builds the
			// primary's network and health check as prepare does: it needs
			// the one-time set-up rights as well.
			proxy.ResetCalls()
			// RDS's ReplicaLag, published past the proxy: it is not ours.
			stop := recovery.PublishReplicaLag(t, testenv.AWS(t, acct.URL), cfg.Primary.Region, recovery.FailbackDB(cfg))
			defer stop()
			g, err = recovery.NewFailback(cfg, env, recovery.Options{}).Graph()
			runGraph(g, err, recovery.KindFailback)
			check(iampolicy.Prepare, iampolicy.Failover)
		})
	}
}
