package recovery

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"time"

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

// Failback names carry a generation, "fb1", "fb2", …: the n-th failback
// of a stack builds its production beside the one the previous failback
// built (which serves until then, and stays until retired on request), so
// it needs names of its own; and the names must not grow with each
// failover/failback cycle. The generation is read from what the config
// says serves now: recover.database.from (the previous failback's DB,
// once its config change is applied) or recover.dns.primary_target (the
// previous failback's load balancer). A name still taken when that
// evidence is stale is refused before the freeze (checkTargetFree).

// failbackGenSuffix matches a failback's generation at the end of a name:
// "-fb2", or the bare "-fb" of the failbacks before generations (which
// counts as one).
var failbackGenSuffix = regexp.MustCompile(`-fb([0-9]{0,6})$`)

// splitFailbackDB splits a database identifier a failback of stack may
// have made, <stack>-<origin>-fb<N> (or the older <stack>-<origin>-fb,
// <stack>-<stack>-<origin>-fb-fb, …), into the original production's
// identifier and the generation. Any other identifier is generation 0
// and its own origin.
func splitFailbackDB(stack, id string) (origin string, gen int) {
	origin = id
	for {
		m := failbackGenSuffix.FindStringSubmatchIndex(origin)
		if m == nil {
			break
		}
		n := 1
		if m[3] > m[2] {
			n, _ = strconv.Atoi(origin[m[2]:m[3]])
		}
		rest := strings.TrimPrefix(origin[:m[0]], stack+"-")
		if rest == origin[:m[0]] || rest == "" {
			// Not a name a failback of this stack gives.
			break
		}
		origin, gen = rest, gen+n
	}
	return origin, gen
}

// failbackDBID is the identifier of generation gen's DB (instance or
// Aurora cluster) for the production DB origin: at most 63 characters,
// RDS's limit, with the generation always kept whole at the end.
func failbackDBID(stack, origin string, gen int) string {
	suffix := "-fb" + strconv.Itoa(gen)
	return fit(stack+"-"+origin, 63-len(suffix)) + suffix
}

// failbackGeneration is the generation of cfg's next failback: one more
// than the newest the config names.
func failbackGeneration(cfg *spec.Config) int {
	gen := 0
	if d := cfg.Recover.Database; d != nil {
		_, gen = splitFailbackDB(cfg.Stack, d.From)
	}
	if d := cfg.Recover.DNS; d != nil {
		if g := lbGeneration(cfg.Stack, d.PrimaryTarget); g > gen {
			gen = g
		}
	}
	return gen + 1
}

// lbGeneration reads the generation of a failback's load balancer from its
// DNS name, <name>-<id>.<region>.elb.amazonaws.com[.cn], where name is
// names.lb() of that generation: <stack>-app-fb<N>. A name fit had to
// shorten (a long stack) no longer shows it: 0, as for any other name.
func lbGeneration(stack, dnsName string) int {
	host := strings.TrimPrefix(strings.ToLower(dnsName), "dualstack.")
	re, err := regexp.Compile("^" + regexp.QuoteMeta(strings.ToLower(stack)) + `-app-fb([0-9]{1,6})-`)
	if err != nil {
		return 0
	}
	m := re.FindStringSubmatch(host)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// failbackNames are the names cfg's next failback gives what it builds in
// the primary region; swapped is cfg with the regions exchanged.
func failbackNames(cfg, swapped *spec.Config) names {
	gen := failbackGeneration(cfg)
	n := newNames(swapped, "fb"+strconv.Itoa(gen))
	if d := cfg.Recover.Database; d != nil {
		origin, _ := splitFailbackDB(cfg.Stack, d.From)
		n.dbID = failbackDBID(cfg.Stack, origin, gen)
	}
	return n
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

// finalSnapshotName names teardown's final snapshot of DB id (an Aurora
// cluster's when cluster): a cluster snapshot identifier may have 63
// characters, an instance snapshot's 255, and a failback's DR teardown of
// a long cluster identifier must not fail on it. The time stays whole.
func finalSnapshotName(id string, now time.Time, cluster bool) string {
	max := 255
	if cluster {
		max = clusterSnapshotMax
	}
	suffix := "-final-" + now.UTC().Format("20060102150405")
	return fit(id, max-len(suffix)) + suffix
}
