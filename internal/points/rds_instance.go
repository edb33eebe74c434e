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
	registerKind(KindRDSInstance, func(c *clients) kindOps { return rdsInstance{c} })
}

// rdsInstance makes manual DB snapshots of an RDS DB instance. The DR copy
// has the same identifier as its source, so a re-run finds it by name.
type rdsInstance struct{ c *clients }

// rdsIDMax is the longest DB snapshot identifier RDS accepts.
const rdsIDMax = 255

func (k rdsInstance) list(ctx context.Context, cfg *spec.Config, t target, region string) ([]Point, error) {
	// RDS ignores tag filters on describe in moto and pages everywhere:
	// ask by instance id and classify by the returned TagList.
	in := &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(t.name), SnapshotType: aws.String("manual")}
	return listDBSnapshots(ctx, k.c.rds(region), in, cfg, t, region)
}

// listDBSnapshots pages through DescribeDBSnapshots; it takes the client so
// that tests can check the paging loop with a client that pages (moto
// ignores MaxRecords and Marker).
func listDBSnapshots(ctx context.Context, api rds.DescribeDBSnapshotsAPIClient, in *rds.DescribeDBSnapshotsInput, cfg *spec.Config, t target, region string) ([]Point, error) {
	var out []Point
	pg := rds.NewDescribeDBSnapshotsPaginator(api, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list DB snapshots of %s: %s: %w", t.name, region, err)
		}
		for _, s := range page.DBSnapshots {
			out = append(out, dbSnapshotPoint(s, cfg, t, region))
		}
	}
	sortNewestFirst(out)
	return out, nil
}

func dbSnapshotPoint(s rdstypes.DBSnapshot, cfg *spec.Config, t target, region string) Point {
	m := tags.FromRDS(s.TagList)
	created := aws.ToTime(s.OriginalSnapshotCreateTime)
	if created.IsZero() {
		created = aws.ToTime(s.SnapshotCreateTime)
	}
	p := Point{
		ID:        aws.ToString(s.DBSnapshotIdentifier),
		ARN:       aws.ToString(s.DBSnapshotArn),
		Resource:  t.name,
		Kind:      KindRDSInstance,
		Region:    region,
		Source:    aws.ToString(s.DBInstanceIdentifier),
		Created:   createdFrom(m, created),
		Status:    rdsStatus(aws.ToString(s.Status), region != cfg.Primary.Region),
		SizeGB:    int(aws.ToInt32(s.AllocatedStorage)),
		Managed:   managedFor(m, cfg.Stack, t.name),
		Encrypted: aws.ToBool(s.Encrypted),
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

// rdsStatus maps RDS's "pending" to creating or copying.
func rdsStatus(s string, dr bool) string {
	if s == "pending" {
		if dr {
			return StatusCopying
		}
		return StatusCreating
	}
	return s
}

func (k rdsInstance) get(ctx context.Context, cfg *spec.Config, t target, region, id string) (Point, error) {
	out, err := k.c.rds(region).DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
	var nf *rdstypes.DBSnapshotNotFoundFault
	if errors.As(err, &nf) || (err == nil && len(out.DBSnapshots) == 0) {
		return Point{}, fmt.Errorf("DB snapshot %s: %s: %w", id, region, ErrNotFound)
	}
	if err != nil {
		return Point{}, fmt.Errorf("describe DB snapshot %s: %s: %w", id, region, err)
	}
	p := dbSnapshotPoint(out.DBSnapshots[0], cfg, t, region)
	if !p.Managed && p.Source != t.name {
		return Point{}, fmt.Errorf("DB snapshot %s: %s: it is of DB instance %s, not %s", id, region, p.Source, t.name)
	}
	return p, nil
}

func (k rdsInstance) source(ctx context.Context, s scope) (source, error) {
	region := s.cfg.Primary.Region
	out, err := k.c.rds(region).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(s.t.name)})
	var nf *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &nf) || (err == nil && len(out.DBInstances) == 0) {
		return source{}, fmt.Errorf("DB instance %s not found in %s", s.t.name, region)
	}
	if err != nil {
		return source{}, fmt.Errorf("describe DB instance %s: %s: %w", s.t.name, region, err)
	}
	db := out.DBInstances[0]
	return source{ID: s.t.name, ARN: aws.ToString(db.DBInstanceArn), Encrypted: aws.ToBool(db.StorageEncrypted), Engine: aws.ToString(db.Engine)}, nil
}

func (k rdsInstance) create(ctx context.Context, s scope, src source, name string, at time.Time) (Point, error) {
	region := s.cfg.Primary.Region
	out, err := k.c.rds(region).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String(src.ID),
		DBSnapshotIdentifier: aws.String(name),
		Tags:                 tags.RDS(pointTags(s.cfg, s.t, src.ID, at, "")),
	})
	var dup *rdstypes.DBSnapshotAlreadyExistsFault
	if errors.As(err, &dup) {
		// A retry whose first attempt reached RDS, or a second run within
		// the same second: the name is ours only if the tags say so.
		return adoptExisting(ctx, k, s, region, name, "")
	}
	if err != nil {
		return Point{}, fmt.Errorf("create DB snapshot %s of %s: %s: %w", name, src.ID, region, err)
	}
	return dbSnapshotPoint(*out.DBSnapshot, s.cfg, s.t, region), nil
}

func (k rdsInstance) wait(ctx context.Context, s scope, p Point) (Point, error) {
	w := rds.NewDBSnapshotAvailableWaiter(k.c.rds(p.Region), func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = k.c.waits.MinDelay, k.c.waits.MaxDelay
	})
	out, err := w.WaitForOutput(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(p.ID)}, k.c.waits.max(p, s.cfg))
	if err != nil {
		return p, fmt.Errorf("wait for DB snapshot %s: %s: %w", p.ID, p.Region, err)
	}
	return dbSnapshotPoint(out.DBSnapshots[0], s.cfg, s.t, p.Region), nil
}

func (k rdsInstance) copy(ctx context.Context, s scope, p Point, kmsKey string) (Point, error) {
	from, to := s.cfg.Primary.Region, s.cfg.DR.Region
	if err := checkCopy(from, to, p.ARN); err != nil {
		return Point{}, err
	}
	in := &rds.CopyDBSnapshotInput{
		// Cross-region copies name the source by ARN; SourceRegion makes the
		// SDK presign the request in the source region.
		SourceDBSnapshotIdentifier: aws.String(p.ARN),
		TargetDBSnapshotIdentifier: aws.String(p.ID),
		SourceRegion:               aws.String(from),
		// The source's tags (ours and any the instance added) are sent
		// explicitly with copy-of added, rather than CopyTags, so the copy
		// is tagged in the same call whatever RDS does with both.
		Tags: tags.RDS(copyTags(p)),
	}
	if p.Encrypted {
		in.KmsKeyId = aws.String(kmsKey)
	}
	out, err := k.c.rds(to).CopyDBSnapshot(ctx, in)
	var dup *rdstypes.DBSnapshotAlreadyExistsFault
	if errors.As(err, &dup) {
		return adoptExisting(ctx, k, s, to, p.ID, p.ID)
	}
	if err != nil {
		return Point{}, fmt.Errorf("copy DB snapshot %s to %s: %w", p.ID, to, err)
	}
	return dbSnapshotPoint(*out.DBSnapshot, s.cfg, s.t, to), nil
}

func (k rdsInstance) remove(ctx context.Context, s scope, p Point) error {
	if !p.Managed {
		return fmt.Errorf("refusing to delete DB snapshot %s: %s: not made by pilotlight for %s", p.ID, p.Region, s.cfg.Stack)
	}
	_, err := k.c.rds(p.Region).DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(p.ID)})
	var nf *rdstypes.DBSnapshotNotFoundFault
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete DB snapshot %s: %s: %w", p.ID, p.Region, err)
	}
	return nil
}

// adoptExisting returns the point called id in region if pilotlight made it
// for this resource (and, for a copy, from copyOf); otherwise an error, as
// the name belongs to someone else.
func adoptExisting(ctx context.Context, k kindOps, s scope, region, id, copyOf string) (Point, error) {
	p, err := k.get(ctx, s.cfg, s.t, region, id)
	if err != nil {
		return Point{}, fmt.Errorf("%s exists in %s but cannot be read: %w", id, region, err)
	}
	if !p.Managed || p.CopyOf != copyOf {
		return Point{}, fmt.Errorf("%s already exists in %s and was not made by pilotlight for %s/%s", id, region, s.cfg.Stack, s.t.name)
	}
	return p, nil
}

// copyTags are the tags of a DR copy of p: its own plus copy-of.
func copyTags(p Point) map[string]string {
	m := make(map[string]string, len(p.tags)+1)
	for k, v := range p.tags {
		m[k] = v
	}
	m[tags.CopyOf] = p.ID
	return m
}
