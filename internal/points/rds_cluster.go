package points

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

func init() {
	registerKind(KindRDSCluster, func(c *clients) kindOps { return rdsCluster{c} })
}

// rdsCluster makes manual DB cluster snapshots of an Aurora DB cluster; the
// DR copy has the same identifier as its source.
type rdsCluster struct{ c *clients }

// clusterIDMax is the longest DB cluster snapshot identifier RDS accepts
// (shorter than an instance snapshot's 255).
const clusterIDMax = 63

func (k rdsCluster) list(ctx context.Context, cfg *spec.Config, t target, region string) ([]Point, error) {
	var out []Point
	pg := rds.NewDescribeDBClusterSnapshotsPaginator(k.c.rds(region), &rds.DescribeDBClusterSnapshotsInput{
		DBClusterIdentifier: aws.String(t.name), SnapshotType: aws.String("manual"),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list DB cluster snapshots of %s: %s: %w", t.name, region, err)
		}
		for _, s := range page.DBClusterSnapshots {
			out = append(out, clusterSnapshotPoint(s, cfg, t, region))
		}
	}
	sortNewestFirst(out)
	return out, nil
}

func clusterSnapshotPoint(s rdstypes.DBClusterSnapshot, cfg *spec.Config, t target, region string) Point {
	m := tags.FromRDS(s.TagList)
	p := Point{
		ID:        aws.ToString(s.DBClusterSnapshotIdentifier),
		ARN:       aws.ToString(s.DBClusterSnapshotArn),
		Resource:  t.name,
		Kind:      KindRDSCluster,
		Region:    region,
		Source:    aws.ToString(s.DBClusterIdentifier),
		Created:   createdFrom(m, aws.ToTime(s.SnapshotCreateTime)),
		Status:    rdsStatus(aws.ToString(s.Status), region != cfg.Primary.Region),
		SizeGB:    int(aws.ToInt32(s.AllocatedStorage)),
		Managed:   managedFor(m, cfg.Stack, t.name),
		Encrypted: aws.ToBool(s.StorageEncrypted),
		KMSKey:    aws.ToString(s.KmsKeyId),
		Engine:    aws.ToString(s.Engine),
		tags:      m,
	}
	p.Name = p.ID
	if p.Managed {
		p.CopyOf = m[tags.CopyOf]
	}
	return p
}

func (k rdsCluster) get(ctx context.Context, cfg *spec.Config, t target, region, id string) (Point, error) {
	out, err := k.c.rds(region).DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)})
	var nf *rdstypes.DBClusterSnapshotNotFoundFault
	if errors.As(err, &nf) || (err == nil && len(out.DBClusterSnapshots) == 0) {
		return Point{}, fmt.Errorf("DB cluster snapshot %s: %s: %w", id, region, ErrNotFound)
	}
	if err != nil {
		return Point{}, fmt.Errorf("describe DB cluster snapshot %s: %s: %w", id, region, err)
	}
	p := clusterSnapshotPoint(out.DBClusterSnapshots[0], cfg, t, region)
	if !p.Managed && p.Source != t.name {
		return Point{}, fmt.Errorf("DB cluster snapshot %s: %s: it is of DB cluster %s, not %s", id, region, p.Source, t.name)
	}
	return p, nil
}

func (k rdsCluster) source(ctx context.Context, s scope) (source, error) {
	region := s.cfg.Primary.Region
	out, err := k.c.rds(region).DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(s.t.name)})
	var nf *rdstypes.DBClusterNotFoundFault
	if errors.As(err, &nf) || (err == nil && len(out.DBClusters) == 0) {
		return source{}, fmt.Errorf("DB cluster %s not found in %s", s.t.name, region)
	}
	if err != nil {
		return source{}, fmt.Errorf("describe DB cluster %s: %s: %w", s.t.name, region, err)
	}
	cl := out.DBClusters[0]
	return source{ID: s.t.name, ARN: aws.ToString(cl.DBClusterArn), Encrypted: aws.ToBool(cl.StorageEncrypted), Engine: aws.ToString(cl.Engine)}, nil
}

func (k rdsCluster) create(ctx context.Context, s scope, src source, name string, at time.Time) (Point, error) {
	region := s.cfg.Primary.Region
	out, err := k.c.rds(region).CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
		DBClusterIdentifier:         aws.String(src.ID),
		DBClusterSnapshotIdentifier: aws.String(name),
		Tags:                        tags.RDS(pointTags(s.cfg, s.t, src.ID, at, "")),
	})
	var dup *rdstypes.DBClusterSnapshotAlreadyExistsFault
	if errors.As(err, &dup) {
		return adoptExisting(ctx, k, s, region, name, "")
	}
	if err != nil {
		return Point{}, fmt.Errorf("create DB cluster snapshot %s of %s: %s: %w", name, src.ID, region, err)
	}
	return clusterSnapshotPoint(*out.DBClusterSnapshot, s.cfg, s.t, region), nil
}

func (k rdsCluster) wait(ctx context.Context, s scope, p Point) (Point, error) {
	w := rds.NewDBClusterSnapshotAvailableWaiter(k.c.rds(p.Region), func(o *rds.DBClusterSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = k.c.waits.MinDelay, k.c.waits.MaxDelay
	})
	out, err := w.WaitForOutput(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(p.ID)}, k.c.waits.max(p, s.cfg))
	if err != nil {
		return p, fmt.Errorf("wait for DB cluster snapshot %s: %s: %w", p.ID, p.Region, err)
	}
	return clusterSnapshotPoint(out.DBClusterSnapshots[0], s.cfg, s.t, p.Region), nil
}

func (k rdsCluster) copy(ctx context.Context, s scope, p Point, kmsKey string) (Point, error) {
	from, to := s.cfg.Primary.Region, s.cfg.DR.Region
	if err := checkCopy(from, to, p.ARN); err != nil {
		return Point{}, err
	}
	in := &rds.CopyDBClusterSnapshotInput{
		SourceDBClusterSnapshotIdentifier: aws.String(p.ARN),
		TargetDBClusterSnapshotIdentifier: aws.String(p.ID),
		SourceRegion:                      aws.String(from),
		Tags:                              tags.RDS(copyTags(p)),
	}
	if p.Encrypted {
		in.KmsKeyId = aws.String(kmsKey)
	}
	out, err := k.c.rds(to).CopyDBClusterSnapshot(ctx, in)
	var dup *rdstypes.DBClusterSnapshotAlreadyExistsFault
	if errors.As(err, &dup) {
		return adoptExisting(ctx, k, s, to, p.ID, p.ID)
	}
	if err != nil {
		return Point{}, fmt.Errorf("copy DB cluster snapshot %s to %s: %w", p.ID, to, err)
	}
	return clusterSnapshotPoint(*out.DBClusterSnapshot, s.cfg, s.t, to), nil
}

func (k rdsCluster) remove(ctx context.Context, s scope, p Point) error {
	if !p.Managed {
		return fmt.Errorf("refusing to delete DB cluster snapshot %s: %s: not made by pilotlight for %s", p.ID, p.Region, s.cfg.Stack)
	}
	_, err := k.c.rds(p.Region).DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(p.ID)})
	var nf *rdstypes.DBClusterSnapshotNotFoundFault
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete DB cluster snapshot %s: %s: %w", p.ID, p.Region, err)
	}
	return nil
}
