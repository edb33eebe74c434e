package cost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// The SDK calls the meter makes, each declared where it is used.
type imageAPI interface {
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
}

type objectAPI interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

type snapshotAPI interface {
	DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
}

// Meter measures what the standby stores in the DR region. It reads the DR
// region only: a cost estimate must work while the primary is down.
type Meter struct {
	Region string
	EC2    imageAPI
	S3     objectAPI
	RDS    snapshotAPI
	Log    *slog.Logger
}

// NewMeter builds a Meter on real clients for region.
func NewMeter(env *awsenv.Env, region string, log *slog.Logger) *Meter {
	cfg := env.For(region)
	return &Meter{
		Region: region,
		EC2:    ec2.NewFromConfig(cfg),
		S3:     env.S3(region, 0),
		RDS:    rds.NewFromConfig(cfg),
		Log:    log,
	}
}

// Want says which sizes to measure; the rest come from flags.
type Want struct {
	AMIs, Replicas, Snapshots, Transfer bool
}

// Measured holds the sizes found, as inputs for Compute. A kind the config
// does not protect stays nil.
type Measured struct {
	AMIGB             *Quantity
	ReplicaGB         map[string]Quantity
	SnapshotGB        *Quantity
	ClusterSnapshotGB *Quantity
	TransferGB        *Quantity
	Notes             []string
}

// TransferWindow is how far back replica objects count as recent growth when
// the monthly transfer is estimated.
const TransferWindow = 30 * 24 * time.Hour

var gib = int64(1) << 30

// Measure reads the DR region for the stack's managed AMIs, replica buckets
// and managed snapshots. now anchors the transfer window.
func (m *Meter) Measure(ctx context.Context, cfg *spec.Config, want Want, now time.Time) (*Measured, error) {
	out := &Measured{}
	if want.AMIs && len(cfg.Protect.Images) > 0 {
		q, err := m.amiGB(ctx, cfg.Stack)
		if err != nil {
			return nil, err
		}
		out.AMIGB = q
		out.Notes = append(out.Notes, "AMI snapshot GB is the snapshots' volume size, an upper bound: "+
			"EBS bills the blocks a snapshot stores, and copies after the first store only changed blocks")
	}
	if (want.Replicas || want.Transfer) && len(cfg.Protect.Buckets) > 0 {
		byClass, recent, err := m.replicaBytes(ctx, cfg, now.Add(-TransferWindow))
		if err != nil {
			return nil, err
		}
		if want.Replicas {
			out.ReplicaGB = map[string]Quantity{}
			for class, n := range byClass {
				out.ReplicaGB[class] = Quantity{Frac(n.bytes, gib),
					fmt.Sprintf("measured: %d objects, %d bytes in %s (current versions)", n.objects, n.bytes, m.Region)}
			}
		}
		if want.Transfer {
			out.TransferGB = &Quantity{Frac(recent, gib), "estimated: replica objects modified in the last 30 days"}
			out.Notes = append(out.Notes, "monthly transfer is estimated from the replica objects modified in the "+
				"last 30 days (bytes that crossed regions); AMI and snapshot copies add their changed blocks: "+
				"give --transfer-gb-month to set it")
		}
	}
	var instances, clusters bool
	for _, db := range cfg.Protect.Databases {
		if db.IsCluster() {
			clusters = true
		} else {
			instances = true
		}
	}
	if want.Snapshots && instances {
		q, err := m.snapshotGB(ctx, cfg.Stack)
		if err != nil {
			return nil, err
		}
		out.SnapshotGB = q
	}
	if want.Snapshots && clusters {
		q, err := m.clusterSnapshotGB(ctx, cfg.Stack)
		if err != nil {
			return nil, err
		}
		out.ClusterSnapshotGB = q
	}
	if want.Snapshots && (instances || clusters) {
		out.Notes = append(out.Notes, "snapshot GB is the allocated storage of each managed DR snapshot, an upper bound: "+
			"RDS bills the backup storage used, incremental between snapshots of one database")
	}
	return out, nil
}

// amiGB adds the volume sizes of the distinct EBS snapshots behind the
// stack's managed AMIs in the region.
func (m *Meter) amiGB(ctx context.Context, stack string) (*Quantity, error) {
	p := ec2.NewDescribeImagesPaginator(m.EC2, &ec2.DescribeImagesInput{
		Owners: []string{"self"},
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + tags.ManagedBy), Values: []string{tags.Tool}},
			{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		},
	})
	seen := map[string]bool{}
	var images int
	var gb int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe managed AMIs of stack %s: %s: %w", stack, m.Region, err)
		}
		for _, im := range page.Images {
			// The filter is the server's; the invariant is ours to check.
			if !tags.Managed(tags.FromEC2(im.Tags), stack) {
				continue
			}
			images++
			for _, bd := range im.BlockDeviceMappings {
				if bd.Ebs == nil || bd.Ebs.SnapshotId == nil || seen[*bd.Ebs.SnapshotId] {
					continue
				}
				seen[*bd.Ebs.SnapshotId] = true
				gb += int64(aws.ToInt32(bd.Ebs.VolumeSize))
			}
		}
	}
	m.debug("managed AMIs", "images", images, "snapshots", len(seen), "gb", gb)
	return &Quantity{Int(gb), fmt.Sprintf("measured: %d managed AMIs, %d snapshots in %s", images, len(seen), m.Region)}, nil
}

type classBytes struct{ objects, bytes int64 }

// replicaBytes streams every replica bucket's listing (no keys are kept)
// and adds object sizes by storage class, and the bytes of objects modified
// since `since`. A replica bucket that does not exist yet counts as empty.
func (m *Meter) replicaBytes(ctx context.Context, cfg *spec.Config, since time.Time) (map[string]classBytes, int64, error) {
	byClass := map[string]classBytes{}
	var recent int64
	for _, b := range cfg.Protect.Buckets {
		// The configured class shows even while the replica is empty.
		class := b.StorageClass
		if class == "" {
			class = string(s3types.StorageClassStandard)
		}
		if _, ok := byClass[class]; !ok {
			byClass[class] = classBytes{}
		}
		p := s3.NewListObjectsV2Paginator(m.S3, &s3.ListObjectsV2Input{Bucket: aws.String(b.Replica)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			var missing *s3types.NoSuchBucket
			if errors.As(err, &missing) {
				m.debug("replica bucket missing", "bucket", b.Replica)
				break
			}
			if err != nil {
				return nil, 0, fmt.Errorf("list replica bucket %s: %s: %w", b.Replica, m.Region, err)
			}
			for _, o := range page.Contents {
				c := string(o.StorageClass)
				if c == "" {
					c = string(s3types.StorageClassStandard)
				}
				size := aws.ToInt64(o.Size)
				cb := byClass[c]
				cb.objects++
				cb.bytes += size
				byClass[c] = cb
				if o.LastModified != nil && !o.LastModified.Before(since) {
					recent += size
				}
			}
		}
	}
	m.debug("replica buckets", "classes", len(byClass), "recent_bytes", recent)
	return byClass, recent, nil
}

// snapshotGB adds the allocated storage of the stack's manual snapshots.
// RDS has no server-side tag filter on describe: the tags are checked here.
func (m *Meter) snapshotGB(ctx context.Context, stack string) (*Quantity, error) {
	p := rds.NewDescribeDBSnapshotsPaginator(m.RDS, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	var n int
	var gb int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe DB snapshots of stack %s: %s: %w", stack, m.Region, err)
		}
		for _, s := range page.DBSnapshots {
			if tags.Managed(tags.FromRDS(s.TagList), stack) {
				n++
				gb += int64(aws.ToInt32(s.AllocatedStorage))
			}
		}
	}
	m.debug("managed DB snapshots", "snapshots", n, "gb", gb)
	return &Quantity{Int(gb), fmt.Sprintf("measured: %d managed DB snapshots in %s", n, m.Region)}, nil
}

func (m *Meter) clusterSnapshotGB(ctx context.Context, stack string) (*Quantity, error) {
	p := rds.NewDescribeDBClusterSnapshotsPaginator(m.RDS, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
	var n int
	var gb int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe DB cluster snapshots of stack %s: %s: %w", stack, m.Region, err)
		}
		for _, s := range page.DBClusterSnapshots {
			if tags.Managed(tags.FromRDS(s.TagList), stack) {
				n++
				gb += int64(aws.ToInt32(s.AllocatedStorage))
			}
		}
	}
	m.debug("managed DB cluster snapshots", "snapshots", n, "gb", gb)
	return &Quantity{Int(gb), fmt.Sprintf("measured: %d managed DB cluster snapshots in %s", n, m.Region)}, nil
}

func (m *Meter) debug(msg string, kv ...any) {
	if m.Log != nil {
		m.Log.Debug(msg, append([]any{"region", m.Region}, kv...)...)
	}
}
