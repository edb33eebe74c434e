package discover

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// run is one discovery: the region's inventory, then the scope decision,
// then the details of what is in scope.
type run struct {
	c    *Clients
	opts Options
	d    *Discovery
	log  *slog.Logger

	lbs           []elbtypes.LoadBalancer
	tgs           []elbtypes.TargetGroup
	asgs          []asgtypes.AutoScalingGroup
	instances     []ec2types.Instance
	subnetVPC     map[string]string
	dbs           []rdstypes.DBInstance
	clusters      []rdstypes.DBCluster
	dbSubnetVPC   map[string]string
	rgs           []ectypes.ReplicationGroup
	cacheClusters []ectypes.CacheCluster
	cacheSubnet   map[string]string // cache subnet group -> VPC

	// lb is the chosen load balancer; inScope decides the rest.
	lb      *elbtypes.LoadBalancer
	inScope func(vpc string, tags map[string]string) bool
	// userData is every app's user-data, for endpoints and bucket names.
	userData []string
	// appInstances are the instances that belong to an app unit.
	appInstances map[string]bool
	// registered holds, per load balancer ARN, the instances registered
	// in its target groups (read only for load balancers without an ASG).
	registered map[string][]string
}

// inventory lists, at once, every kind of resource of the region. A failed
// listing means the region cannot be read, and discovery stops: a partial
// picture would write a config that silently leaves things out.
func (r *run) inventory(ctx context.Context) error {
	region := r.c.Region
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	fail := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = regionErr(region, what, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := []struct {
		what string
		run  func(context.Context) error
	}{
		{"list load balancers", r.listLoadBalancers},
		{"list auto scaling groups", r.listASGs},
		{"list instances", r.listInstances},
		{"list subnets", r.listSubnets},
		{"list databases", r.listDatabases},
		{"list caches", r.listCaches},
	}
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.run(ctx); err != nil {
				fail(j.what, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

func (r *run) listLoadBalancers(ctx context.Context) error {
	pg := elb.NewDescribeLoadBalancersPaginator(r.c.ELB, &elb.DescribeLoadBalancersInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, lb := range page.LoadBalancers {
			// Recovery rebuilds an Application Load Balancer; a network or
			// gateway load balancer is not something it knows how to stand in for.
			if lb.Type == elbtypes.LoadBalancerTypeEnumApplication || lb.Type == "" {
				r.lbs = append(r.lbs, lb)
			}
		}
	}
	tp := elb.NewDescribeTargetGroupsPaginator(r.c.ELB, &elb.DescribeTargetGroupsInput{})
	for tp.HasMorePages() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			return err
		}
		r.tgs = append(r.tgs, page.TargetGroups...)
	}
	return nil
}

func (r *run) listASGs(ctx context.Context) error {
	pg := autoscaling.NewDescribeAutoScalingGroupsPaginator(r.c.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		r.asgs = append(r.asgs, page.AutoScalingGroups...)
	}
	return nil
}

func (r *run) listInstances(ctx context.Context) error {
	pg := ec2.NewDescribeInstancesPaginator(r.c.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"},
	}}})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, res := range page.Reservations {
			r.instances = append(r.instances, res.Instances...)
		}
	}
	return nil
}

func (r *run) listSubnets(ctx context.Context) error {
	r.subnetVPC = map[string]string{}
	pg := ec2.NewDescribeSubnetsPaginator(r.c.EC2, &ec2.DescribeSubnetsInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.Subnets {
			r.subnetVPC[aws.ToString(s.SubnetId)] = aws.ToString(s.VpcId)
		}
	}
	return nil
}

func (r *run) listDatabases(ctx context.Context) error {
	ip := rds.NewDescribeDBInstancesPaginator(r.c.RDS, &rds.DescribeDBInstancesInput{})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return err
		}
		r.dbs = append(r.dbs, page.DBInstances...)
	}
	cp := rds.NewDescribeDBClustersPaginator(r.c.RDS, &rds.DescribeDBClustersInput{})
	for cp.HasMorePages() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			return err
		}
		r.clusters = append(r.clusters, page.DBClusters...)
	}
	r.dbSubnetVPC = map[string]string{}
	sp := rds.NewDescribeDBSubnetGroupsPaginator(r.c.RDS, &rds.DescribeDBSubnetGroupsInput{})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, g := range page.DBSubnetGroups {
			r.dbSubnetVPC[aws.ToString(g.DBSubnetGroupName)] = aws.ToString(g.VpcId)
		}
	}
	return nil
}

func (r *run) listCaches(ctx context.Context) error {
	gp := elasticache.NewDescribeReplicationGroupsPaginator(r.c.Cache, &elasticache.DescribeReplicationGroupsInput{})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return err
		}
		r.rgs = append(r.rgs, page.ReplicationGroups...)
	}
	// Member clusters carry the subnet group (and so the VPC) that a
	// replication group's own description leaves out.
	cp := elasticache.NewDescribeCacheClustersPaginator(r.c.Cache, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	for cp.HasMorePages() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			return err
		}
		r.cacheClusters = append(r.cacheClusters, page.CacheClusters...)
	}
	r.cacheSubnet = map[string]string{}
	sp := elasticache.NewDescribeCacheSubnetGroupsPaginator(r.c.Cache, &elasticache.DescribeCacheSubnetGroupsInput{})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, g := range page.CacheSubnetGroups {
			r.cacheSubnet[aws.ToString(g.CacheSubnetGroupName)] = aws.ToString(g.VpcId)
		}
	}
	return nil
}
