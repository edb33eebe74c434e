package recovery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// restoreDatabase restores the DB instance (or Aurora cluster with one
// writer) from a DR snapshot, or re-attaches to the one a crashed run
// started, and waits until it is available.
func restoreDatabase(ctx context.Context, c *clients, cfg *spec.Config, n names, snapshot string, cluster bool, net Network, t map[string]string, wait waitPolicy) (host string, port int, err error) {
	d := cfg.Recover.Database
	id := n.db()
	sgs := d.SecurityGroups
	if len(sgs) == 0 && net.DBSecurityGroup != "" {
		sgs = []string{net.DBSecurityGroup}
	}
	if cluster {
		return restoreCluster(ctx, c, cfg, id, snapshot, sgs, net, t, wait)
	}
	existing, err := describeInstance(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if existing == nil {
		in := &rds.RestoreDBInstanceFromDBSnapshotInput{
			DBInstanceIdentifier: aws.String(id),
			DBSnapshotIdentifier: aws.String(snapshot),
			DBSubnetGroupName:    aws.String(net.DBSubnetGroup),
			VpcSecurityGroupIds:  sgs,
			MultiAZ:              aws.Bool(d.MultiAZ),
			PubliclyAccessible:   aws.Bool(false),
			Tags:                 rdsTags(t),
		}
		if d.Class != "" {
			in.DBInstanceClass = aws.String(d.Class)
		}
		if d.ParameterGroup != "" {
			in.DBParameterGroupName = aws.String(d.ParameterGroup)
		}
		if _, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, in); err != nil {
			var exists *rdstypes.DBInstanceAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("restore DB instance %s from %s: %s: %w", id, snapshot, c.region, err)
			}
		}
	}
	db, err := waitFor(ctx, wait, "DB instance "+id, func(ctx context.Context) (*rdstypes.DBInstance, bool, error) {
		db, err := describeInstance(ctx, c, id)
		if err != nil || db == nil {
			return nil, false, err
		}
		switch s := aws.ToString(db.DBInstanceStatus); s {
		case "available":
			return db, true, nil
		case "failed", "incompatible-restore", "incompatible-parameters", "incompatible-network", "restore-error":
			return nil, false, fmt.Errorf("DB instance %s is %s", id, s)
		}
		return nil, false, nil
	})
	if err != nil {
		return "", 0, err
	}
	if db.Endpoint == nil {
		return "", 0, fmt.Errorf("DB instance %s is available but has no endpoint", id)
	}
	return aws.ToString(db.Endpoint.Address), int(aws.ToInt32(db.Endpoint.Port)), nil
}

func describeInstance(ctx context.Context, c *clients, id string) (*rdstypes.DBInstance, error) {
	out, err := c.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var nf *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB instance %s: %s: %w", id, c.region, err)
	}
	if len(out.DBInstances) == 0 {
		return nil, nil
	}
	return &out.DBInstances[0], nil
}

func describeCluster(ctx context.Context, c *clients, id string) (*rdstypes.DBCluster, error) {
	out, err := c.rds.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	var nf *rdstypes.DBClusterNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB cluster %s: %s: %w", id, c.region, err)
	}
	if len(out.DBClusters) == 0 {
		return nil, nil
	}
	return &out.DBClusters[0], nil
}

// restoreCluster restores an Aurora cluster and adds one writer instance:
// a restored cluster has no instances and serves nothing until it does.
func restoreCluster(ctx context.Context, c *clients, cfg *spec.Config, id, snapshot string, sgs []string, net Network, t map[string]string, wait waitPolicy) (string, int, error) {
	d := cfg.Recover.Database
	cl, err := describeCluster(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if cl == nil {
		// Engine is required by the API; the DR copy records it.
		engine := t["engine"]
		if engine == "" {
			engine = "aurora-mysql"
		}
		in := &rds.RestoreDBClusterFromSnapshotInput{
			DBClusterIdentifier: aws.String(id), SnapshotIdentifier: aws.String(snapshot), Engine: aws.String(engine),
			DBSubnetGroupName: aws.String(net.DBSubnetGroup), VpcSecurityGroupIds: sgs, Tags: rdsTags(withoutKey(t, "engine")),
		}
		if _, err := c.rds.RestoreDBClusterFromSnapshot(ctx, in); err != nil {
			var exists *rdstypes.DBClusterAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("restore DB cluster %s from %s: %s: %w", id, snapshot, c.region, err)
			}
		}
		cl, err = describeCluster(ctx, c, id)
		if err != nil || cl == nil {
			return "", 0, fmt.Errorf("restored DB cluster %s not found: %s: %w", id, c.region, err)
		}
	}
	writer := fit(id+"-1", 63)
	inst, err := describeInstance(ctx, c, writer)
	if err != nil {
		return "", 0, err
	}
	if inst == nil {
		class := d.Class
		if class == "" {
			class = "db.r6g.large"
		}
		if _, err := c.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(writer), DBClusterIdentifier: aws.String(id), Engine: cl.Engine,
			DBInstanceClass: aws.String(class), Tags: rdsTags(withoutKey(t, "engine")),
		}); err != nil {
			var exists *rdstypes.DBInstanceAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("create writer %s in cluster %s: %s: %w", writer, id, c.region, err)
			}
		}
	}
	got, err := waitFor(ctx, wait, "DB cluster "+id, func(ctx context.Context) (*rdstypes.DBCluster, bool, error) {
		cl, err := describeCluster(ctx, c, id)
		if err != nil || cl == nil {
			return nil, false, err
		}
		in, err := describeInstance(ctx, c, writer)
		if err != nil || in == nil {
			return nil, false, err
		}
		return cl, aws.ToString(cl.Status) == "available" && aws.ToString(in.DBInstanceStatus) == "available", nil
	})
	if err != nil {
		return "", 0, err
	}
	return aws.ToString(got.Endpoint), int(aws.ToInt32(got.Port)), nil
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// waitPolicy bounds context-aware polling with backoff.
type waitPolicy struct {
	First, Max time.Duration
	Timeout    time.Duration
}

func defaultWait() waitPolicy {
	return waitPolicy{First: 2 * time.Second, Max: 30 * time.Second, Timeout: 90 * time.Minute}
}

// waitFor polls check until it reports done, backing off between polls and
// giving up at the policy's timeout or when ctx ends.
func waitFor[T any](ctx context.Context, p waitPolicy, what string, check func(context.Context) (T, bool, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	delay := p.First
	start := time.Now()
	for {
		v, done, err := check(ctx)
		if err != nil {
			return zero, err
		}
		if done {
			return v, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("waiting for %s (%s elapsed): %w", what, time.Since(start).Round(time.Second), ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, p.Max)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
