package operation

import (
	"context"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// recoverPreCheck refuses a failover or drill whose app could not boot in
// the DR region: a parameter it reads at boot (the database password) has
// no copy there. It calls the DR region only, as the failover does.
func recoverPreCheck(ctx context.Context, cfg *spec.Config, env *awsenv.Env) error {
	probs := secrets.CheckDR(ctx, env, cfg)
	if len(probs) == 0 {
		return nil
	}
	lines := make([]string, len(probs))
	for i, p := range probs {
		lines[i] = p.String()
	}
	return fmt.Errorf("refusing to start: the app reads at boot what the DR region lacks:\n  %s", strings.Join(lines, "\n  "))
}
