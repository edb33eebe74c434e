package recovery

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// names derives every recovery-plane resource name from the stack, so that
// a re-run after a crash finds what the first run made instead of making a
// second one. A drill adds its suffix so that it never touches the
// failover's names.
type names struct {
	stack  string
	suffix string // "" for failover, "drill" for drills
	cfg    *spec.Config
	dbID   string // overrides the DB identifier (failback's new primary DB)
}

func newNames(cfg *spec.Config, suffix string) names {
	return names{stack: cfg.Stack, suffix: suffix, cfg: cfg}
}

func (n names) with(base string, maxLen int) string {
	s := base
	if n.suffix != "" {
		s += "-" + n.suffix
	}
	return fit(s, maxLen)
}

// fit shortens a name to maxLen, keeping it unique with a short hash.
func fit(s string, maxLen int) string {
	if len(s) <= maxLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:6]
	return strings.TrimRight(s[:maxLen-7], "-") + "-" + h
}

// Prepared resources have no suffix: drills share the prepared network.
func (n names) vpc() string              { return n.stack + "-dr" }
func (n names) dbSubnetGroup() string    { return fit(n.stack+"-dr-db", 255) }
func (n names) cacheSubnetGroup() string { return fit(n.stack+"-dr-cache", 255) }
func (n names) appRole() string          { return fit(n.stack+"-dr-app", 64) }

// The prepared DR load balancer of failover-records mode.
func (n names) preparedLB() string { return fit(n.stack+"-dr", 32) }
func (n names) preparedTG() string { return fit(n.stack+"-dr", 32) }

// Per-operation resources.
func (n names) db() string {
	if n.dbID != "" {
		return n.dbID
	}
	id := n.stack + "-db-dr"
	if n.cfg.Recover.Database != nil && n.cfg.Recover.Database.Identifier != "" {
		id = n.cfg.Recover.Database.Identifier
	}
	return n.with(id, 63)
}
func (n names) cache() string          { return n.with(n.stack+"-cache", 40) }
func (n names) launchTemplate() string { return n.with(n.stack+"-app", 128) }
func (n names) asg() string            { return n.with(n.stack+"-app", 255) }
func (n names) lb() string             { return n.with(n.stack+"-app", 32) }
func (n names) tg() string             { return n.with(n.stack+"-app", 32) }
