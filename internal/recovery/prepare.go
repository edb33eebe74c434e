package recovery

import (
	"context"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// PrepareResult says what `prepare` built, or that it changed nothing.
type PrepareResult struct {
	Region          string   `json:"region"`
	Network         Network  `json:"network"`
	InstanceRole    string   `json:"instance_profile,omitempty"`
	LoadBalancer    string   `json:"load_balancer,omitempty"`
	LoadBalancerDNS string   `json:"load_balancer_dns,omitempty"`
	Changes         []string `json:"changes"`
	DryRun          bool     `json:"dry_run,omitempty"`
	Missing         []string `json:"missing,omitempty"`
	// Warnings are risks prepare cannot remove (PinRisk, key policy).
	Warnings []string `json:"warnings,omitempty"`
}

// Prepare builds, idempotently, what must exist in the DR region before a
// disaster: the network (or a check of the one the config names), the
// app's IAM role and instance profile, and in failover-records mode the DR
// load balancer and the Route 53 failover records with their health check.
// Everything that needs IAM or Route 53's control plane happens here, while
// every region is up.
func Prepare(ctx context.Context, cfg *spec.Config, env *awsenv.Env) (*PrepareResult, error) {
	return prepare(ctx, cfg, env, false)
}

// PrepareDryRun makes only read calls and lists, as "would ..." changes,
// everything Prepare would do; a refusal Prepare would meet is its error.
func PrepareDryRun(ctx context.Context, cfg *spec.Config, env *awsenv.Env) (*PrepareResult, error) {
	return prepare(ctx, cfg, env, true)
}

func prepare(ctx context.Context, cfg *spec.Config, env *awsenv.Env, dryRun bool) (*PrepareResult, error) {
	c := newClients(env, cfg.DR.Region)
	res := &PrepareResult{Region: cfg.DR.Region, DryRun: dryRun}
	ch := changes{dry: dryRun}
	var err error
	if cfg.Recover.Network.VPC.IsZero() {
		res.Network, err = buildNetwork(ctx, c.network(), cfg, &ch)
		if err != nil {
			return res, err
		}
	} else {
		var missing []string
		res.Network, missing, err = findExistingNetwork(ctx, c.network(), cfg)
		if err != nil {
			return res, err
		}
		// Subnet groups pilotlight may make on a network it did not build.
		if len(res.Network.DBSubnets) > 0 {
			if err := ensureSubnetGroups(ctx, c.network(), cfg, &res.Network, &ch); err != nil {
				return res, err
			}
			missing = filterOut(missing, "subnet group")
		}
		res.Missing = missing
		if len(missing) > 0 {
			return res, fmt.Errorf("the network named in recover.network is incomplete in %s: missing %s", cfg.DR.Region, strings.Join(missing, ", "))
		}
	}
	if cfg.Recover.App != nil {
		if res.InstanceRole, err = ensureAppRole(ctx, c.iam, cfg, &ch); err != nil {
			return res, err
		}
		if err := ensureKeyGrants(ctx, c.kms, env, cfg, &ch); err != nil {
			return res, err
		}
	}
	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords && cfg.Recover.App != nil {
		if err := checkPrimaryTarget(ctx, env, cfg); err != nil {
			return res, err
		}
		n := newNames(cfg, "")
		lb, err := ensureLoadBalancer(ctx, c.loadBalancer(), cfg, n.preparedLB(), n.preparedTG(), res.Network, prepTags(cfg, "dr-load-balancer", n.preparedLB()), &ch)
		if err != nil {
			return res, err
		}
		res.LoadBalancer, res.LoadBalancerDNS = n.preparedLB(), lb.DNS
		if usesPin(cfg) {
			if err := ensurePinAlarm(ctx, c.pin(), cfg.Stack, &ch); err != nil {
				return res, err
			}
		}
		store, err := stateStore(ctx, cfg, env)
		if err != nil {
			return res, err
		}
		defer store.Close()
		if err := ensureFailoverRecords(ctx, c.dns(), cfg, lb.DNS, store, &ch, defaultWait()); err != nil {
			return res, err
		}
		if risk := PinRisk(cfg); risk != "" {
			res.Warnings = append(res.Warnings, risk)
		}
	}
	res.Changes = ch.list
	return res, nil
}

func filterOut(list []string, substr string) []string {
	var out []string
	for _, s := range list {
		if !strings.Contains(s, substr) {
			out = append(out, s)
		}
	}
	return out
}

// MissingNetwork lists what a failover would need from `prepare` and cannot
// find in the DR region; it changes nothing.
func MissingNetwork(ctx context.Context, env *awsenv.Env, cfg *spec.Config) ([]string, error) {
	c := newClients(env, cfg.DR.Region)
	_, missing, err := findNetwork(ctx, c.network(), cfg)
	if err != nil {
		return nil, err
	}
	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords && cfg.Recover.App != nil {
		if _, err := findPreparedLB(ctx, c.loadBalancer(), newNames(cfg, "")); err != nil {
			missing = append(missing, "prepared DR load balancer "+newNames(cfg, "").preparedLB())
		}
	}
	return missing, nil
}

// changes collects what an idempotent build created, so that a second run
// can say it changed nothing. In a dry run it collects what would be done.
type changes struct {
	list []string
	dry  bool
}

func (c *changes) add(format string, args ...any) {
	c.list = append(c.list, fmt.Sprintf(format, args...))
}

// would records, in a dry run, a change that was not made; the caller skips
// the call when it returns true.
func (c *changes) would(format string, args ...any) bool {
	if c.dry {
		c.list = append(c.list, "would "+fmt.Sprintf(format, args...))
	}
	return c.dry
}

// placeholder stands, in a dry run, for the id a skipped create would have
// returned.
func placeholder(what string) string { return "(new " + what + ")" }

func isPlaceholder(id string) bool { return strings.HasPrefix(id, "(new ") }

// prepTags are the tags of what `prepare` builds: kept across failovers and
// drills, deleted only by `teardown --network`.
func prepTags(cfg *spec.Config, role, name string) map[string]string {
	return tags.With(tags.Base(cfg.Stack), tags.OpKind, "prepare", tags.Role, role, "Name", name)
}
