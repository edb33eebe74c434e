package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// replicaLagAPI is the part of CloudWatch the final catch-up reads.
type replicaLagAPI interface {
	GetMetricStatistics(context.Context, *cloudwatch.GetMetricStatisticsInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// waitReplicaCaughtUp waits until RDS reports, for a minute that began at
// or after the freeze, a replica lag of zero: promoting earlier would
// leave behind the writes still in flight from DR. RDS publishes
// ReplicaLag once a minute for a read replica.
func (f *Failback) waitReplicaCaughtUp(ctx context.Context, id string, frozen time.Time) error {
	region := f.cfg.Primary.Region
	cw := replicaLagAPI(cloudwatch.NewFromConfig(f.env.For(region), func(o *cloudwatch.Options) {
		o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801)
	}))
	_, err := waitFor(ctx, f.home.wait, "replica lag 0 on "+id+" after the freeze", func(ctx context.Context) (struct{}, bool, error) {
		lag, at, err := latestReplicaLag(ctx, cw, id, frozen)
		if err != nil {
			return struct{}{}, false, fmt.Errorf("replica lag of %s: %s: %w", id, region, err)
		}
		f.home.opts.Log.Debug("failback: replica lag", "db", id, "region", region, "lag_seconds", lag, "at", at)
		return struct{}{}, !at.IsZero() && lag == 0, nil
	})
	return err
}

// latestReplicaLag is the newest ReplicaLag maximum of DB id in a minute
// starting at or after since; a zero time when there is none yet.
func latestReplicaLag(ctx context.Context, cw replicaLagAPI, id string, since time.Time) (float64, time.Time, error) {
	now := time.Now().UTC()
	// A datapoint's time is the start of its minute: only a minute that
	// starts at or after the freeze (to the second CloudWatch keeps)
	// says nothing was in flight any more.
	start := since.Truncate(time.Second)
	if start.Before(since) {
		start = start.Add(time.Second)
	}
	since = start
	out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/RDS"), MetricName: aws.String("ReplicaLag"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("DBInstanceIdentifier"), Value: aws.String(id)}},
		StartTime:  aws.Time(start), EndTime: aws.Time(now.Add(time.Minute)),
		Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	var lag float64
	var at time.Time
	for _, d := range out.Datapoints {
		t := aws.ToTime(d.Timestamp)
		if !t.Before(since) && t.After(at) {
			at, lag = t, aws.ToFloat64(d.Maximum)
		}
	}
	return lag, at, nil
}

// runAppRole rewrites the app role's policy so that the primary's app can
// use the source buckets, for a role an older prepare made for the
// replicas only. IAM's control plane answers again: the primary is back.
func (f *Failback) runAppRole(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	var ch changes
	name, err := ensureAppRole(ctx, f.home.c.iam, f.cfg, &ch)
	if err != nil {
		return nil, err
	}
	return outputs("role", name), nil
}

// replicaRDS is the part of RDS a failback's continuous catch-up calls.
type replicaRDS interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	CreateDBInstanceReadReplica(context.Context, *rds.CreateDBInstanceReadReplicaInput, ...func(*rds.Options)) (*rds.CreateDBInstanceReadReplicaOutput, error)
	PromoteReadReplica(context.Context, *rds.PromoteReadReplicaInput, ...func(*rds.Options)) (*rds.PromoteReadReplicaOutput, error)
}

// sourceDB is what a failback needs to know of the DB it moves home.
type sourceDB struct {
	ID, ARN, Engine string
	Encrypted       bool
	Cluster         bool // an Aurora DB cluster, not a DB instance
}

// replicaEngines are the engines RDS replicates across regions as a DB
// instance read replica, which a failback uses to catch up while DR keeps
// serving. Oracle and SQL Server need licensing options pilotlight does
// not configure; they take the snapshot path.
var replicaEngines = []string{"mysql", "mariadb", "postgres"}

// describeSourceDB reads DB instance id of region.
func describeSourceDB(ctx context.Context, env *awsenv.Env, region, id string) (sourceDB, error) {
	db, err := replicaInstance(ctx, rds.NewFromConfig(env.For(region)), region, id)
	if err != nil {
		return sourceDB{}, err
	}
	if db == nil {
		return sourceDB{}, fmt.Errorf("DB instance %s not found in %s", id, region)
	}
	return sourceDB{ID: id, ARN: aws.ToString(db.DBInstanceArn), Engine: aws.ToString(db.Engine), Encrypted: aws.ToBool(db.StorageEncrypted)}, nil
}

func replicaInstance(ctx context.Context, api replicaRDS, region, id string) (*rdstypes.DBInstance, error) {
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var nf *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB instance %s: %s: %w", id, region, err)
	}
	if len(out.DBInstances) == 0 {
		return nil, nil
	}
	return &out.DBInstances[0], nil
}

// replicaInput places a cross-region read replica.
type replicaInput struct {
	ID             string
	Class          string
	SubnetGroup    string
	SecurityGroups []string
	KMSKey         string // a key of the replica's region; required if the source is encrypted
	Tags           map[string]string
}

// replicaDB makes in region a read replica of source (of sourceRegion),
// unless one of that id exists, and waits until it is available: from
// then on RDS keeps it current while the source goes on taking writes.
func replicaDB(ctx context.Context, env *awsenv.Env, sourceRegion string, source sourceDB, region string, in replicaInput, poll points.Poll) error {
	api := rds.NewFromConfig(env.For(region))
	db, err := replicaInstance(ctx, api, region, in.ID)
	if err != nil {
		return err
	}
	if db == nil {
		_, err := api.CreateDBInstanceReadReplica(ctx, &rds.CreateDBInstanceReadReplicaInput{
			DBInstanceIdentifier: aws.String(in.ID), SourceDBInstanceIdentifier: aws.String(source.ARN),
			SourceRegion: aws.String(sourceRegion), DBSubnetGroupName: stringOrNil(in.SubnetGroup),
			VpcSecurityGroupIds: in.SecurityGroups, DBInstanceClass: stringOrNil(in.Class), KmsKeyId: stringOrNil(in.KMSKey),
			PubliclyAccessible: aws.Bool(false), Tags: tags.RDS(in.Tags),
		})
		var exists *rdstypes.DBInstanceAlreadyExistsFault
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("read replica %s of %s (%s): %s: %w", in.ID, source.ID, sourceRegion, region, err)
		}
	} else if aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier) == "" {
		return fmt.Errorf("DB instance %s exists in %s and is not a read replica: it is not this failback's; delete it or pick another identifier", in.ID, region)
	}
	_, err = waitReplicaAvailable(ctx, api, region, in.ID, poll)
	return err
}

// promoteDB makes read replica id of region a standalone DB instance,
// unless it is one already, and waits until it is available and writable.
func promoteDB(ctx context.Context, env *awsenv.Env, region, id string, poll points.Poll) error {
	api := rds.NewFromConfig(env.For(region))
	db, err := replicaInstance(ctx, api, region, id)
	if err != nil {
		return err
	}
	if db == nil {
		return fmt.Errorf("read replica %s not found in %s", id, region)
	}
	if aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier) != "" {
		if _, err := api.PromoteReadReplica(ctx, &rds.PromoteReadReplicaInput{DBInstanceIdentifier: aws.String(id), BackupRetentionPeriod: aws.Int32(7)}); err != nil {
			return fmt.Errorf("promote read replica %s: %s: %w", id, region, err)
		}
	}
	return poll(ctx, "promotion of "+id, func(ctx context.Context) (bool, error) {
		db, err := replicaInstance(ctx, api, region, id)
		if err != nil || db == nil {
			return false, err
		}
		return aws.ToString(db.DBInstanceStatus) == "available" && aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier) == "", nil
	})
}

func waitReplicaAvailable(ctx context.Context, api replicaRDS, region, id string, poll points.Poll) (*rdstypes.DBInstance, error) {
	var got *rdstypes.DBInstance
	err := poll(ctx, "DB instance "+id, func(ctx context.Context) (bool, error) {
		db, err := replicaInstance(ctx, api, region, id)
		if err != nil || db == nil {
			return false, err
		}
		switch st := aws.ToString(db.DBInstanceStatus); st {
		case "available":
			got = db
			return true, nil
		case "failed", "incompatible-parameters", "incompatible-network", "incompatible-restore", "storage-full":
			return false, fmt.Errorf("DB instance %s is %s in %s", id, st, region)
		}
		return false, nil
	})
	return got, err
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
