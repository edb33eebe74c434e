package cost

import (
	"testing"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// SeedStandbyFor exposes the moto fixture to the CLI tests in package
// cost_test, which import package cli (itself importing cost) and so cannot
// live in package cost.
func SeedStandbyFor(t *testing.T, env *awsenv.Env, stack, primary, dr, replica string, standard, ia int64) *spec.Config {
	return seedStandby(t, env, standbyFixture{stack: stack, primary: primary, dr: dr, replica: replica, standard: standard, ia: ia})
}
