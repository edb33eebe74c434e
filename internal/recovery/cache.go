package recovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// createCache makes the Redis replication group, empty as in the seed
// (nothing of Redis is copied), or re-attaches to one a crashed run made.
func createCache(ctx context.Context, c *clients, cfg *spec.Config, n names, net Network, t map[string]string, wait waitPolicy) (host string, port int, err error) {
	ca := cfg.Recover.Cache
	id := n.cache()
	rg, err := describeCache(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if rg == nil {
		in := &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId:          aws.String(id),
			ReplicationGroupDescription: aws.String("pilotlight " + cfg.Stack + " recovered cache"),
			Engine:                      aws.String(ca.Engine),
			CacheNodeType:               aws.String(ca.NodeType),
			NumCacheClusters:            aws.Int32(int32(ca.Nodes)),
			CacheSubnetGroupName:        aws.String(net.CacheSubnetGroup),
			Tags:                        cacheTags(t),
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

func describeCache(ctx context.Context, c *clients, id string) (*ectypes.ReplicationGroup, error) {
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
