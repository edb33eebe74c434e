package recovery

import (
	"testing"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// Teardown must never delete what a surviving resource still uses: a kind
// goes only after every kind that read its outputs during the recovery.
func TestTeardownWalksTheRecoveryBackwards(t *testing.T) {
	for _, mode := range []string{spec.DNSUpsert, spec.DNSFailoverRecords, spec.DNSManual} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t, "us-east-1", "us-west-2", mode)
			// Building graphs makes no call: the endpoint is never reached.
			env := testenv.AWS(t, "http://127.0.0.1:1")
			for _, kind := range []string{KindFailover, KindDrill} {
				r := New(cfg, env, Options{Kind: kind})
				create, err := r.Graph()
				if err != nil {
					t.Fatal(err)
				}
				down, err := r.TeardownGraph(TeardownOptions{Network: true})
				if err != nil {
					t.Fatal(err)
				}
				wave := map[string]int{}
				for _, p := range down.Plan() {
					wave[p.ID] = p.Wave
				}
				for _, s := range create.Steps() {
					for _, need := range s.Needs {
						if wave[s.ID] == 0 || wave[need] == 0 {
							continue // one side leaves nothing to delete
						}
						if wave[need] <= wave[s.ID] {
							t.Errorf("%s: %s reads %s but teardown deletes %s in wave %d, %s in wave %d",
								kind, s.ID, need, need, wave[need], s.ID, wave[s.ID])
						}
					}
				}
				assertSteps(t, down, StepDNS, StepApp, StepLaunchTemplate, StepLoadBalancer, StepCache, StepEgress, StepDatabase, StepNetwork)
			}
		})
	}
}

func assertSteps(t *testing.T, g *runbook.Graph, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, ok := g.Step(id); !ok {
			t.Errorf("teardown has no %s step", id)
		}
	}
}
