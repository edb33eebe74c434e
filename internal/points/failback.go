package points

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Failback moves the recovered database home: a snapshot of the DR
// database, copied back to the primary region. Both are named by the
// failback run, so a resumed run finds what the crashed one started.

// Snapshot is a DB snapshot a failback made.
type Snapshot struct {
	ID        string
	ARN       string
	Encrypted bool
}

// Poll waits until done reports true, or fails; recovery passes its own
// context-aware back-off so that tests can shorten it.
type Poll func(ctx context.Context, what string, done func(context.Context) (bool, error)) error

// SnapshotDB snapshots DB instance db in region as name, tagged t, unless a
// snapshot of that name exists, and waits until it is available.
func SnapshotDB(ctx context.Context, env *awsenv.Env, region, db, name string, t map[string]string, poll Poll) (Snapshot, error) {
	api := newClients(env).rds(region)
	snap, err := describeDBSnapshot(ctx, api, region, name)
	if err != nil {
		return Snapshot{}, err
	}
	if snap == nil {
		if _, err := api.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(db), DBSnapshotIdentifier: aws.String(name), Tags: tags.RDS(t)}); err != nil {
			var exists *rdstypes.DBSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return Snapshot{}, fmt.Errorf("snapshot DB %s as %s: %s: %w", db, name, region, err)
			}
		}
	}
	return waitDBSnapshot(ctx, api, region, name, poll)
}

// CopySnapshotTo copies the snapshot sourceARN of sourceRegion to region
// under the same name, with its tags, unless the copy exists, and waits
// until it is available. kmsKey, a key of region, is required to copy an
// encrypted snapshot across regions and ignored for an unencrypted one.
func CopySnapshotTo(ctx context.Context, env *awsenv.Env, sourceRegion, sourceARN, region, name, kmsKey string, poll Poll) (Snapshot, error) {
	api := newClients(env).rds(region)
	snap, err := describeDBSnapshot(ctx, api, region, name)
	if err != nil {
		return Snapshot{}, err
	}
	if snap == nil {
		if _, err := api.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{
			SourceDBSnapshotIdentifier: aws.String(sourceARN), TargetDBSnapshotIdentifier: aws.String(name),
			SourceRegion: aws.String(sourceRegion), CopyTags: aws.Bool(true), KmsKeyId: optionalString(kmsKey),
		}); err != nil {
			var exists *rdstypes.DBSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return Snapshot{}, fmt.Errorf("copy %s to %s: %w", name, region, err)
			}
		}
	}
	return waitDBSnapshot(ctx, api, region, name, poll)
}

func describeDBSnapshot(ctx context.Context, api rdsAPI, region, name string) (*rdstypes.DBSnapshot, error) {
	out, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(name)})
	var nf *rdstypes.DBSnapshotNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe snapshot %s: %s: %w", name, region, err)
	}
	if len(out.DBSnapshots) == 0 {
		return nil, nil
	}
	return &out.DBSnapshots[0], nil
}

func waitDBSnapshot(ctx context.Context, api rdsAPI, region, name string, poll Poll) (Snapshot, error) {
	var got Snapshot
	err := poll(ctx, "snapshot "+name, func(ctx context.Context) (bool, error) {
		s, err := describeDBSnapshot(ctx, api, region, name)
		if err != nil || s == nil {
			return false, err
		}
		switch st := aws.ToString(s.Status); st {
		case "available":
			got = Snapshot{ID: name, ARN: aws.ToString(s.DBSnapshotArn), Encrypted: aws.ToBool(s.Encrypted)}
			return true, nil
		case "failed", "error":
			return false, fmt.Errorf("snapshot %s is %s in %s", name, st, region)
		}
		return false, nil
	})
	return got, err
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// failbackRDS is the part of RDS a failback's continuous catch-up calls.
type failbackRDS interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	CreateDBInstanceReadReplica(context.Context, *rds.CreateDBInstanceReadReplicaInput, ...func(*rds.Options)) (*rds.CreateDBInstanceReadReplicaOutput, error)
	PromoteReadReplica(context.Context, *rds.PromoteReadReplicaInput, ...func(*rds.Options)) (*rds.PromoteReadReplicaOutput, error)
}

// SourceDB is what a failback needs to know of the DB it moves home.
type SourceDB struct {
	ID, ARN, Engine string
	Encrypted       bool
}

// ReplicaEngines are the engines RDS replicates across regions as a DB
// instance read replica, which a failback uses to catch up while DR keeps
// serving. Oracle and SQL Server need licensing options pilotlight does
// not configure; they take the snapshot path.
var ReplicaEngines = []string{"mysql", "mariadb", "postgres"}

// DescribeSourceDB reads DB instance id of region.
func DescribeSourceDB(ctx context.Context, env *awsenv.Env, region, id string) (SourceDB, error) {
	db, err := failbackInstance(ctx, rds.NewFromConfig(env.For(region)), region, id)
	if err != nil {
		return SourceDB{}, err
	}
	if db == nil {
		return SourceDB{}, fmt.Errorf("DB instance %s not found in %s", id, region)
	}
	return SourceDB{ID: id, ARN: aws.ToString(db.DBInstanceArn), Engine: aws.ToString(db.Engine), Encrypted: aws.ToBool(db.StorageEncrypted)}, nil
}

func failbackInstance(ctx context.Context, api failbackRDS, region, id string) (*rdstypes.DBInstance, error) {
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

// ReplicaInput places a cross-region read replica.
type ReplicaInput struct {
	ID             string
	Class          string
	SubnetGroup    string
	SecurityGroups []string
	KMSKey         string // a key of the replica's region; required if the source is encrypted
	Tags           map[string]string
}

// ReplicaDB makes in region a read replica of source (of sourceRegion),
// unless one of that id exists, and waits until it is available: from
// then on RDS keeps it current while the source goes on taking writes.
func ReplicaDB(ctx context.Context, env *awsenv.Env, sourceRegion string, source SourceDB, region string, in ReplicaInput, poll Poll) error {
	api := rds.NewFromConfig(env.For(region))
	db, err := failbackInstance(ctx, api, region, in.ID)
	if err != nil {
		return err
	}
	if db == nil {
		_, err := api.CreateDBInstanceReadReplica(ctx, &rds.CreateDBInstanceReadReplicaInput{
			DBInstanceIdentifier: aws.String(in.ID), SourceDBInstanceIdentifier: aws.String(source.ARN),
			SourceRegion: aws.String(sourceRegion), DBSubnetGroupName: optionalString(in.SubnetGroup),
			VpcSecurityGroupIds: in.SecurityGroups, DBInstanceClass: optionalString(in.Class), KmsKeyId: optionalString(in.KMSKey),
			PubliclyAccessible: aws.Bool(false), Tags: tags.RDS(in.Tags),
		})
		var exists *rdstypes.DBInstanceAlreadyExistsFault
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("read replica %s of %s (%s): %s: %w", in.ID, source.ID, sourceRegion, region, err)
		}
	} else if aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier) == "" {
		return fmt.Errorf("DB instance %s exists in %s and is not a read replica: it is not this failback's; delete it or pick another identifier", in.ID, region)
	}
	_, err = waitFailbackInstance(ctx, api, region, in.ID, poll)
	return err
}

// PromoteDB makes read replica id of region a standalone DB instance,
// unless it is one already, and waits until it is available and writable.
func PromoteDB(ctx context.Context, env *awsenv.Env, region, id string, poll Poll) error {
	api := rds.NewFromConfig(env.For(region))
	db, err := failbackInstance(ctx, api, region, id)
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
		db, err := failbackInstance(ctx, api, region, id)
		if err != nil || db == nil {
			return false, err
		}
		return aws.ToString(db.DBInstanceStatus) == "available" && aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier) == "", nil
	})
}

func waitFailbackInstance(ctx context.Context, api failbackRDS, region, id string, poll Poll) (*rdstypes.DBInstance, error) {
	var got *rdstypes.DBInstance
	err := poll(ctx, "DB instance "+id, func(ctx context.Context) (bool, error) {
		db, err := failbackInstance(ctx, api, region, id)
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
