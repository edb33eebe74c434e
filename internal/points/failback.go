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
// database (a DB snapshot of an instance, a cluster snapshot of an Aurora
// cluster), copied back to the primary region. Both are named by the
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

// SnapshotCluster snapshots Aurora DB cluster id of region as name, tagged
// t, unless a cluster snapshot of that name exists, and waits until it is
// available.
func SnapshotCluster(ctx context.Context, env *awsenv.Env, region, cluster, name string, t map[string]string, poll Poll) (Snapshot, error) {
	api := newClients(env).rds(region)
	snap, err := describeClusterSnapshot(ctx, api, region, name)
	if err != nil {
		return Snapshot{}, err
	}
	if snap == nil {
		if _, err := api.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier: aws.String(cluster), DBClusterSnapshotIdentifier: aws.String(name), Tags: tags.RDS(t),
		}); err != nil {
			var exists *rdstypes.DBClusterSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return Snapshot{}, fmt.Errorf("snapshot DB cluster %s as %s: %s: %w", cluster, name, region, err)
			}
		}
	}
	return waitClusterSnapshot(ctx, api, region, name, poll)
}

// CopyClusterSnapshotTo copies the DB cluster snapshot sourceARN of
// sourceRegion to region under the same name, with its tags, unless the
// copy exists, and waits until it is available. kmsKey, a key of region,
// is required to copy an encrypted snapshot across regions and must be
// empty for an unencrypted one (RDS refuses it). Aurora copies every
// cluster snapshot in full across regions: there is no incremental copy.
func CopyClusterSnapshotTo(ctx context.Context, env *awsenv.Env, sourceRegion, sourceARN, region, name, kmsKey string, poll Poll) (Snapshot, error) {
	api := newClients(env).rds(region)
	snap, err := describeClusterSnapshot(ctx, api, region, name)
	if err != nil {
		return Snapshot{}, err
	}
	if snap == nil {
		if _, err := api.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{
			SourceDBClusterSnapshotIdentifier: aws.String(sourceARN), TargetDBClusterSnapshotIdentifier: aws.String(name),
			SourceRegion: aws.String(sourceRegion), CopyTags: aws.Bool(true), KmsKeyId: optionalString(kmsKey),
		}); err != nil {
			var exists *rdstypes.DBClusterSnapshotAlreadyExistsFault
			if !errors.As(err, &exists) {
				return Snapshot{}, fmt.Errorf("copy DB cluster snapshot %s to %s: %w", name, region, err)
			}
		}
	}
	return waitClusterSnapshot(ctx, api, region, name, poll)
}

func describeClusterSnapshot(ctx context.Context, api rdsAPI, region, name string) (*rdstypes.DBClusterSnapshot, error) {
	out, err := api.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(name)})
	var nf *rdstypes.DBClusterSnapshotNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB cluster snapshot %s: %s: %w", name, region, err)
	}
	if len(out.DBClusterSnapshots) == 0 {
		return nil, nil
	}
	return &out.DBClusterSnapshots[0], nil
}

func waitClusterSnapshot(ctx context.Context, api rdsAPI, region, name string, poll Poll) (Snapshot, error) {
	var got Snapshot
	err := poll(ctx, "DB cluster snapshot "+name, func(ctx context.Context) (bool, error) {
		s, err := describeClusterSnapshot(ctx, api, region, name)
		if err != nil || s == nil {
			return false, err
		}
		switch st := aws.ToString(s.Status); st {
		case "available":
			got = Snapshot{ID: name, ARN: aws.ToString(s.DBClusterSnapshotArn), Encrypted: aws.ToBool(s.StorageEncrypted)}
			return true, nil
		case "failed", "error":
			return false, fmt.Errorf("DB cluster snapshot %s is %s in %s", name, st, region)
		}
		return false, nil
	})
	return got, err
}

// DeleteFailbackSnapshot deletes the DB snapshot (or, with cluster, the DB
// cluster snapshot) name of region once a failback no longer needs it,
// only if it carries the tags of that failback (want: stack, op-kind and
// operation): a snapshot of the same name anyone else made is refused. A
// snapshot already gone is no error.
func DeleteFailbackSnapshot(ctx context.Context, env *awsenv.Env, region, name string, cluster bool, want map[string]string) error {
	api := newClients(env).rds(region)
	var have map[string]string
	if cluster {
		s, err := describeClusterSnapshot(ctx, api, region, name)
		if err != nil || s == nil {
			return err
		}
		have = tags.FromRDS(s.TagList)
	} else {
		s, err := describeDBSnapshot(ctx, api, region, name)
		if err != nil || s == nil {
			return err
		}
		have = tags.FromRDS(s.TagList)
	}
	for _, k := range []string{tags.ManagedBy, tags.Stack, tags.OpKind, tags.Operation} {
		if have[k] != want[k] {
			return fmt.Errorf("refusing to delete snapshot %s: %s: it is not this failback's (%s is %q, not %q)", name, region, k, have[k], want[k])
		}
	}
	var err error
	if cluster {
		_, err = api.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(name)})
		var nf *rdstypes.DBClusterSnapshotNotFoundFault
		if errors.As(err, &nf) {
			err = nil
		}
	} else {
		_, err = api.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(name)})
		var nf *rdstypes.DBSnapshotNotFoundFault
		if errors.As(err, &nf) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("delete snapshot %s: %s: %w", name, region, err)
	}
	return nil
}
