package discover

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// notRDS are engines DescribeDBInstances also returns that are not
// relational databases pilotlight snapshots.
func notRDS(engine string) bool {
	return strings.HasPrefix(engine, "docdb") || strings.HasPrefix(engine, "neptune")
}

func (r *run) dbVPC(db rdstypes.DBInstance) string {
	if db.DBSubnetGroup == nil {
		return ""
	}
	if v := aws.ToString(db.DBSubnetGroup.VpcId); v != "" {
		return v
	}
	return r.dbSubnetVPC[aws.ToString(db.DBSubnetGroup.DBSubnetGroupName)]
}

func (r *run) foundIn(kind, vpc, subnetGroup string) string {
	if r.d.Scope.By == "tags" {
		return kind + " carrying the tags " + tagText(r.opts.Tags)
	}
	s := kind + " in " + vpc
	if subnetGroup != "" {
		s += " (subnet group " + subnetGroup + ")"
	}
	return s
}

// databases keeps the DB instances and Aurora clusters in scope. Cluster
// members are part of their cluster, not databases of their own.
func (r *run) databases() {
	byID := map[string]rdstypes.DBInstance{}
	for _, db := range r.dbs {
		byID[aws.ToString(db.DBInstanceIdentifier)] = db
	}
	for _, db := range r.dbs {
		id, engine := aws.ToString(db.DBInstanceIdentifier), aws.ToString(db.Engine)
		if db.DBClusterIdentifier != nil || notRDS(engine) {
			continue
		}
		vpc := r.dbVPC(db)
		if !r.inScope(vpc, tags.FromRDS(db.TagList)) {
			continue
		}
		d := Database{ID: id, Kind: "instance", Engine: engine, EngineVersion: aws.ToString(db.EngineVersion),
			Class: aws.ToString(db.DBInstanceClass), MultiAZ: aws.ToBool(db.MultiAZ), Encrypted: aws.ToBool(db.StorageEncrypted),
			KMSKey: aws.ToString(db.KmsKeyId), VPC: vpc}
		if db.DBSubnetGroup != nil {
			d.SubnetGroup = aws.ToString(db.DBSubnetGroup.DBSubnetGroupName)
		}
		for _, pg := range db.DBParameterGroups {
			if n := aws.ToString(pg.DBParameterGroupName); customParameterGroup(n) {
				d.ParameterGroup = n
			}
		}
		if ep := db.Endpoint; ep != nil {
			d.Port = int(aws.ToInt32(ep.Port))
			d.Endpoints = append(d.Endpoints, aws.ToString(ep.Address))
		}
		if !d.Encrypted {
			d.KMSKey = ""
		}
		d.Found = r.foundIn(fmt.Sprintf("RDS DB instance (%s %s, %s)", d.Engine, d.EngineVersion, d.Class), vpc, d.SubnetGroup)
		if db.ReadReplicaSourceDBInstanceIdentifier != nil {
			r.undecided("DB instance %s is a read replica of %s: it is protected like any instance; remove it if the source is enough", id, aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier))
		}
		r.d.Databases = append(r.d.Databases, d)
	}
	for _, cl := range r.clusters {
		id, engine := aws.ToString(cl.DBClusterIdentifier), aws.ToString(cl.Engine)
		if notRDS(engine) {
			continue
		}
		group := aws.ToString(cl.DBSubnetGroup)
		vpc := r.dbSubnetVPC[group]
		if !r.inScope(vpc, tags.FromRDS(cl.TagList)) {
			continue
		}
		d := Database{ID: id, Kind: "cluster", Engine: engine, EngineVersion: aws.ToString(cl.EngineVersion),
			Port: int(aws.ToInt32(cl.Port)), Encrypted: aws.ToBool(cl.StorageEncrypted), VPC: vpc, SubnetGroup: group}
		if d.Encrypted {
			d.KMSKey = aws.ToString(cl.KmsKeyId)
		}
		if n := aws.ToString(cl.DBClusterParameterGroup); customParameterGroup(n) {
			d.ParameterGroup = n
		}
		for _, ep := range []*string{cl.Endpoint, cl.ReaderEndpoint} {
			if aws.ToString(ep) != "" {
				d.Endpoints = append(d.Endpoints, aws.ToString(ep))
			}
		}
		for _, m := range cl.DBClusterMembers {
			mid := aws.ToString(m.DBInstanceIdentifier)
			d.Members = append(d.Members, mid)
			inst, ok := byID[mid]
			if !ok {
				continue
			}
			if aws.ToBool(m.IsClusterWriter) || d.Class == "" {
				d.Class = aws.ToString(inst.DBInstanceClass)
			}
			if inst.Endpoint != nil {
				d.Endpoints = append(d.Endpoints, aws.ToString(inst.Endpoint.Address))
			}
		}
		sort.Strings(d.Members)
		kind := "Aurora DB cluster"
		if !strings.HasPrefix(engine, "aurora") {
			kind = "Multi-AZ DB cluster"
		}
		d.Found = r.foundIn(fmt.Sprintf("%s (%s %s, %d instance(s), writer %s)", kind, d.Engine, d.EngineVersion, len(d.Members), orNone(d.Class)), vpc, group)
		r.d.Databases = append(r.d.Databases, d)
	}
}

// customParameterGroup: RDS names the groups it makes default.<family>.
func customParameterGroup(name string) bool {
	return name != "" && !strings.HasPrefix(name, "default.")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// namedInUserData reports whether any app's user-data names s.
func (r *run) namedInUserData(s string) bool {
	if s == "" {
		return false
	}
	for _, ud := range r.userData {
		if strings.Contains(strings.ToLower(ud), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// caches keeps the Redis and Valkey replication groups and clusters in
// scope. A replication group's VPC is that of its member clusters' subnet
// group.
func (r *run) caches(ctx context.Context) error {
	rgGroup := map[string]string{}
	for _, cc := range r.cacheClusters {
		if rg := aws.ToString(cc.ReplicationGroupId); rg != "" && rgGroup[rg] == "" {
			rgGroup[rg] = aws.ToString(cc.CacheSubnetGroupName)
		}
	}
	tagsOf := func(arn string) (map[string]string, error) {
		if r.d.Scope.By != "tags" || arn == "" {
			return nil, nil
		}
		out, err := r.c.Cache.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String(arn)})
		if err != nil {
			return nil, regionErr(r.c.Region, "read tags of "+arn, err)
		}
		return tags.FromElastiCache(out.TagList), nil
	}
	for _, rg := range r.rgs {
		id := aws.ToString(rg.ReplicationGroupId)
		group := rgGroup[id]
		vpc := r.cacheSubnet[group]
		tm, err := tagsOf(aws.ToString(rg.ARN))
		if err != nil {
			return err
		}
		c := Cache{ID: id, Kind: "replication-group", Engine: aws.ToString(rg.Engine), NodeType: aws.ToString(rg.CacheNodeType),
			Nodes: len(rg.MemberClusters), VPC: vpc, SubnetGroup: group}
		if c.Engine == "" {
			c.Engine = "redis"
		}
		c.Endpoints = rgEndpoints(rg)
		switch {
		case r.inScope(vpc, tm):
			c.Found = r.foundIn(fmt.Sprintf("ElastiCache %s replication group (%s x%d)", c.Engine, c.NodeType, c.Nodes), vpc, group)
		case r.d.Scope.By == "vpc" && vpc == "" && r.namedAnyInUserData(c.Endpoints):
			c.Found = fmt.Sprintf("ElastiCache %s replication group (%s x%d) named in the app's user-data (its VPC could not be read: no member cluster was listed)", c.Engine, c.NodeType, c.Nodes)
		case r.d.Scope.By == "vpc" && vpc == "":
			r.undecided("cache replication group %s: its VPC could not be read (no member cluster was listed) and the app's user-data does not name it: not included", id)
			continue
		default:
			continue
		}
		// The group's engine version is on its members.
		for _, cc := range r.cacheClusters {
			if aws.ToString(cc.ReplicationGroupId) == id && c.EngineVersion == "" {
				c.EngineVersion = aws.ToString(cc.EngineVersion)
			}
		}
		if len(rg.NodeGroups) > 1 {
			r.undecided("cache %s runs in cluster mode with %d shards; recovery creates one shard of %s: check that the app copes", id, len(rg.NodeGroups), c.NodeType)
		}
		r.d.Caches = append(r.d.Caches, c)
	}
	for _, cc := range r.cacheClusters {
		if aws.ToString(cc.ReplicationGroupId) != "" {
			continue
		}
		id := aws.ToString(cc.CacheClusterId)
		group := aws.ToString(cc.CacheSubnetGroupName)
		vpc := r.cacheSubnet[group]
		tm, err := tagsOf(aws.ToString(cc.ARN))
		if err != nil {
			return err
		}
		if !r.inScope(vpc, tm) {
			continue
		}
		engine := aws.ToString(cc.Engine)
		if engine != "redis" && engine != "valkey" {
			r.undecided("cache cluster %s runs %s: pilotlight recovers Redis or Valkey only, so it is not included", id, engine)
			continue
		}
		c := Cache{ID: id, Kind: "cluster", Engine: engine, EngineVersion: aws.ToString(cc.EngineVersion),
			NodeType: aws.ToString(cc.CacheNodeType), Nodes: int(aws.ToInt32(cc.NumCacheNodes)), VPC: vpc, SubnetGroup: group}
		if ep := cc.ConfigurationEndpoint; ep != nil {
			c.Endpoints = append(c.Endpoints, aws.ToString(ep.Address))
		}
		for _, n := range cc.CacheNodes {
			if n.Endpoint != nil {
				c.Endpoints = append(c.Endpoints, aws.ToString(n.Endpoint.Address))
			}
		}
		c.Found = r.foundIn(fmt.Sprintf("ElastiCache %s cluster (%s x%d)", c.Engine, c.NodeType, c.Nodes), vpc, group)
		r.d.Caches = append(r.d.Caches, c)
	}
	return nil
}

func rgEndpoints(rg ectypes.ReplicationGroup) []string {
	var out []string
	add := func(ep *ectypes.Endpoint) {
		if ep != nil && aws.ToString(ep.Address) != "" {
			out = append(out, aws.ToString(ep.Address))
		}
	}
	add(rg.ConfigurationEndpoint)
	for _, ng := range rg.NodeGroups {
		add(ng.PrimaryEndpoint)
		add(ng.ReaderEndpoint)
		for _, m := range ng.NodeGroupMembers {
			add(m.ReadEndpoint)
		}
	}
	return out
}

func (r *run) namedAnyInUserData(names []string) bool {
	for _, n := range names {
		if r.namedInUserData(n) {
			return true
		}
	}
	return false
}
