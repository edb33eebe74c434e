package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// StepCache is the cache kind's step id.
const StepCache = "cache"

// cacheKind makes the Redis replication group, empty (nothing of Redis is
// copied), and deletes it on teardown.
type cacheKind struct{}

// cacheAPI is the part of ElastiCache the cache kind calls.
type cacheAPI interface {
	DescribeReplicationGroups(context.Context, *elasticache.DescribeReplicationGroupsInput, ...func(*elasticache.Options)) (*elasticache.DescribeReplicationGroupsOutput, error)
	CreateReplicationGroup(context.Context, *elasticache.CreateReplicationGroupInput, ...func(*elasticache.Options)) (*elasticache.CreateReplicationGroupOutput, error)
	DeleteReplicationGroup(context.Context, *elasticache.DeleteReplicationGroupInput, ...func(*elasticache.Options)) (*elasticache.DeleteReplicationGroupOutput, error)
	ListTagsForResource(context.Context, *elasticache.ListTagsForResourceInput, ...func(*elasticache.Options)) (*elasticache.ListTagsForResourceOutput, error)
}

type cacheClients struct {
	region string
	cache  cacheAPI
}

func (c *clients) recoveredCache() cacheClients {
	return cacheClients{region: c.region, cache: c.cache}
}

// The cache step hands on the cache's id and endpoint, as cache_*.
func cacheOf(o runbook.Outputs) endpointOut { return endpointOf(o, "cache") }

func (cacheKind) ID() string            { return StepCache }
func (cacheKind) After() []string       { return []string{StepNetwork} }
func (cacheKind) Used(r *Recovery) bool { return r.cfg.Recover.Cache != nil }

func (cacheKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "create cache " + r.n.cache() + " in " + r.cfg.DR.Region
	}
	ca := r.cfg.Recover.Cache
	return fmt.Sprintf("create %s cache %s (%s x%d), empty, and wait until available", ca.Engine, r.n.cache(), ca.NodeType, ca.Nodes)
}

func (cacheKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	host, port, err := createCache(ctx, r.handoffCacheClients(rc, r.c.recoveredCache()), r.cfg, r.n, r.network(rc), r.stepTags(rc, StepCache, "cache"), r.wait)
	if err != nil {
		return nil, err
	}
	return endpointOut{ID: r.n.cache(), Host: host, Port: port}.outputs("cache"), nil
}

func (cacheKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	return "delete cache " + r.n.cache()
}

// Verify checks the cache is available.
func (cacheKind) Verify(ctx context.Context, r *Recovery, out journalOutputs, now time.Time) []report.Check {
	if r.cfg.Recover.Cache == nil {
		return nil
	}
	id := cacheOf(out[StepCache]).ID
	rg, err := describeCache(ctx, r.c.recoveredCache(), id)
	ok := err == nil && rg != nil && aws.ToString(rg.Status) == "available"
	status := "missing"
	if rg != nil {
		status = aws.ToString(rg.Status)
	}
	return []report.Check{check("cache available", ok, "%s is %s", id, status)}
}

// createCache makes the Redis replication group, empty as in the seed
// (nothing of Redis is copied), or re-attaches to one a crashed run made.
func createCache(ctx context.Context, c cacheClients, cfg *spec.Config, n names, net Network, t map[string]string, wait waitPolicy) (host string, port int, err error) {
	ca := cfg.Recover.Cache
	id := n.cache()
	rg, err := describeCache(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if rg != nil {
		if err := checkCacheOwner(ctx, c, rg, t); err != nil {
			return "", 0, err
		}
	}
	if rg == nil {
		in := &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId:          aws.String(id),
			ReplicationGroupDescription: aws.String("pilotlight " + cfg.Stack + " recovered cache"),
			Engine:                      aws.String(ca.Engine),
			CacheNodeType:               aws.String(ca.NodeType),
			NumCacheClusters:            aws.Int32(int32(ca.Nodes)),
			CacheSubnetGroupName:        aws.String(net.CacheSubnetGroup),
			Tags:                        tags.ElastiCache(t),
		}
		if net.DBSecurityGroup != "" {
			in.SecurityGroupIds = []string{net.DBSecurityGroup}
		}
		if ca.EngineVersion != "" {
			in.EngineVersion = aws.String(ca.EngineVersion)
		}
		if ca.Nodes > 1 {
			in.AutomaticFailoverEnabled = aws.Bool(true)
		}
		if _, err := c.cache.CreateReplicationGroup(ctx, in); err != nil {
			var exists *ectypes.ReplicationGroupAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("create cache %s: %s: %w", id, c.region, err)
			}
			// Made by someone else between the describe and the create.
			if rg, err := describeCache(ctx, c, id); err == nil && rg != nil {
				if err := checkCacheOwner(ctx, c, rg, t); err != nil {
					return "", 0, err
				}
			}
		}
	}
	rg, err = waitFor(ctx, wait, "cache "+id, func(ctx context.Context) (*ectypes.ReplicationGroup, bool, error) {
		rg, err := describeCache(ctx, c, id)
		if err != nil || rg == nil {
			return nil, false, err
		}
		switch s := aws.ToString(rg.Status); s {
		case "available":
			return rg, true, nil
		case "create-failed", "deleting":
			return nil, false, fmt.Errorf("cache %s is %s", id, s)
		}
		return nil, false, nil
	})
	if err != nil {
		return "", 0, err
	}
	if ep := rg.ConfigurationEndpoint; ep != nil {
		return aws.ToString(ep.Address), int(aws.ToInt32(ep.Port)), nil
	}
	if len(rg.NodeGroups) > 0 && rg.NodeGroups[0].PrimaryEndpoint != nil {
		ep := rg.NodeGroups[0].PrimaryEndpoint
		return aws.ToString(ep.Address), int(aws.ToInt32(ep.Port)), nil
	}
	return "", 0, fmt.Errorf("cache %s is available but has no endpoint", id)
}

// checkCacheOwner refuses a replication group of the recovery's name that
// this operation did not make.
func checkCacheOwner(ctx context.Context, c cacheClients, rg *ectypes.ReplicationGroup, want map[string]string) error {
	id := aws.ToString(rg.ReplicationGroupId)
	tl, err := c.cache.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: rg.ARN})
	if err != nil {
		return fmt.Errorf("list tags of cache %s: %s: %w", id, c.region, err)
	}
	if have := tags.FromElastiCache(tl.TagList); !ours(have, want) {
		return notOurs("cache", id, c.region, have, want)
	}
	return nil
}

func describeCache(ctx context.Context, c cacheClients, id string) (*ectypes.ReplicationGroup, error) {
	out, err := c.cache.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	var nf *ectypes.ReplicationGroupNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe cache %s: %s: %w", id, c.region, err)
	}
	if len(out.ReplicationGroups) == 0 {
		return nil, nil
	}
	return &out.ReplicationGroups[0], nil
}

// Teardown deletes the recovered cache, if this operation made it.
func (cacheKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.recoveredCache()
	id := r.n.cache()
	rg, err := describeCache(ctx, c, id)
	if err != nil || rg == nil {
		return nil, err
	}
	if aws.ToString(rg.Status) == "deleting" {
		return runbook.Outputs{"deleted": id}, nil
	}
	tl, err := c.cache.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: rg.ARN})
	if err != nil {
		return nil, fmt.Errorf("list tags of cache %s: %s: %w", id, c.region, err)
	}
	if !r.owned(tags.FromElastiCache(tl.TagList)) {
		return runbook.Outputs{"skipped": id}, nil
	}
	if _, err := c.cache.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
		var nf *ectypes.ReplicationGroupNotFoundFault
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("delete cache %s: %s: %w", id, c.region, err)
		}
	}
	// Deletion of a replication group takes minutes and nothing here waits
	// on it unless the network goes too; a group in `deleting` is gone for
	// every purpose of the stack.
	return runbook.Outputs{"deleted": id}, nil
}
