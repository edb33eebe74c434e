package cost

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// standbyFixture builds in the DR region what the protect plane leaves
// there: a managed AMI copy, a replica bucket with objects in two storage
// classes, a managed DB snapshot; plus look-alikes that must not count.
type standbyFixture struct {
	stack, primary, dr, replica string
	// standard and ia are the replica's bytes by class.
	standard, ia int64
}

func seedStandby(t *testing.T, env *awsenv.Env, f standbyFixture) *spec.Config {
	t.Helper()
	ctx := context.Background()

	// AMI: made in the primary, copied to DR, the copy tagged as the points
	// package tags it (moto's CopyImage drops tags: tag afterwards).
	pec2 := ec2.NewFromConfig(env.For(f.primary))
	run, err := pec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Small,
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := pec2.CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId: run.Instances[0].InstanceId, Name: aws.String(f.stack + "-app-1"), NoReboot: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	dec2 := ec2.NewFromConfig(env.For(f.dr))
	managed := append(tags.EC2(tags.Base(f.stack)), ec2types.Tag{Key: aws.String(tags.Kind), Value: aws.String("ami")})
	for i, tg := range [][]ec2types.Tag{
		managed,
		tags.EC2(tags.Base("other-stack")), // another stack's copy
		{{Key: aws.String("Name"), Value: aws.String("hand-made")}}, // not pilotlight's
	} {
		cp, err := dec2.CopyImage(ctx, &ec2.CopyImageInput{
			Name: aws.String(f.stack + "-copy-" + string(rune('a'+i))), SourceImageId: img.ImageId, SourceRegion: aws.String(f.primary),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*cp.ImageId}, Tags: tg}); err != nil {
			t.Fatal(err)
		}
	}

	// Replica bucket in the DR region with STANDARD and STANDARD_IA objects.
	s3c := env.S3(f.dr, 0)
	in := &s3.CreateBucketInput{Bucket: aws.String(f.replica)}
	if f.dr != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(f.dr)}
	}
	if _, err := s3c.CreateBucket(ctx, in); err != nil {
		t.Fatal(err)
	}
	put := func(key string, size int64, class s3types.StorageClass) {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(f.replica), Key: aws.String(key), StorageClass: class,
			Body: strings.NewReader(strings.Repeat("x", int(size))),
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("a/one.jpg", f.standard/2, "")
	put("a/two.jpg", f.standard-f.standard/2, s3types.StorageClassStandard)
	put("b/three.jpg", f.ia, s3types.StorageClassStandardIa)

	// DB snapshot in DR: one managed for the stack, one not.
	drds := rds.NewFromConfig(env.For(f.dr))
	if _, err := drds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("wp-db"), DBInstanceClass: aws.String("db.t3.medium"), Engine: aws.String("mysql"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
	}); err != nil {
		t.Fatal(err)
	}
	for id, tg := range map[string][]rdstypes.Tag{
		"wp-db-managed": tags.RDS(tags.With(tags.Base(f.stack), tags.Kind, "rds-instance")),
		"wp-db-by-hand": nil,
	} {
		if _, err := drds.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
			DBInstanceIdentifier: aws.String("wp-db"), DBSnapshotIdentifier: aws.String(id), Tags: tg,
		}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := &spec.Config{Stack: f.stack, Primary: spec.Region{Region: f.primary}, DR: spec.Region{Region: f.dr}}
	cfg.Protect.Databases = []spec.Database{{ID: "wp-db"}}
	cfg.Protect.Images = []spec.Image{{Name: "app"}}
	cfg.Protect.Buckets = []spec.Bucket{{Name: "media", Source: f.replica + "-src", Replica: f.replica, StorageClass: "STANDARD_IA"}}
	return cfg
}

func TestMeasureFromMoto(t *testing.T) {
	for _, c := range []struct {
		name, primary, dr, currency string
		iaPrice                     string
	}{
		{"china", "cn-northwest-1", "cn-north-1", "CNY", "0.125"},
		{"global", "us-east-1", "us-west-2", "USD", "0.0125"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			moto := testenv.Shared(t)
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			f := standbyFixture{stack: "wordpress", primary: c.primary, dr: c.dr, replica: "wp-media-dr-" + c.name,
				standard: 3 << 20, ia: 1 << 20}
			cfg := seedStandby(t, env, f)

			meter := NewMeter(env, c.dr, nil)
			now := time.Now()
			got, err := meter.Measure(context.Background(), cfg, Want{AMIs: true, Replicas: true, Snapshots: true, Transfer: true}, now)
			if err != nil {
				t.Fatal(err)
			}
			// moto gives every image one 15 GiB snapshot; only the managed copy counts.
			if got.AMIGB == nil || got.AMIGB.Value.String() != "15" || !strings.Contains(got.AMIGB.From, "1 managed AMIs") {
				t.Errorf("AMI: %+v", got.AMIGB)
			}
			if got.SnapshotGB == nil || got.SnapshotGB.Value.String() != "20" {
				t.Errorf("snapshots: %+v", got.SnapshotGB)
			}
			if got.ClusterSnapshotGB != nil {
				t.Errorf("no cluster is protected: %+v", got.ClusterSnapshotGB)
			}
			std, ia := got.ReplicaGB["STANDARD"], got.ReplicaGB["STANDARD_IA"]
			if std.Value.Cmp(Frac(f.standard, 1<<30)) != 0 || ia.Value.Cmp(Frac(f.ia, 1<<30)) != 0 || len(got.ReplicaGB) != 2 {
				t.Errorf("replica: %+v", got.ReplicaGB)
			}
			// Everything was written just now: all of it is recent growth.
			if got.TransferGB == nil || got.TransferGB.Value.Cmp(Frac(f.standard+f.ia, 1<<30)) != 0 {
				t.Errorf("transfer: %+v", got.TransferGB)
			}

			est, err := Compute(Inputs{
				Stack: cfg.Stack, PrimaryRegion: c.primary, DRRegion: c.dr,
				AMIGB: got.AMIGB, ReplicaGB: got.ReplicaGB, SnapshotGB: got.SnapshotGB, TransferGB: got.TransferGB,
				TaxRate: Decimal{}, OneOff: true, Notes: got.Notes,
			}, DefaultPrices())
			if err != nil {
				t.Fatal(err)
			}
			if est.Currency != c.currency {
				t.Errorf("currency %s", est.Currency)
			}
			prices := DefaultPrices().Regions[c.dr]
			for _, l := range est.Standby {
				if l.Kind == "ami-snapshots" {
					if want := Int(15).Mul(*prices.EBSSnapshotGBMonth).Mul(Int(12)).RoundCents(); l.PerYear.Cmp(want) != 0 {
						t.Errorf("AMI per year %s, want %s", l.PerYear, want)
					}
				}
				if l.Kind == "s3:STANDARD_IA" && l.UnitPrice.String() != c.iaPrice {
					t.Errorf("IA price %s", l.UnitPrice)
				}
			}
			if len(est.Standby) != 5 || len(est.OneOff) != 1 || est.OneOff[0].Once == nil || est.OneOff[0].PerYear != nil {
				t.Errorf("lines: %+v one-off %+v", est.Standby, est.OneOff)
			}

			// Forty days later nothing in the replica is recent.
			later, err := meter.Measure(context.Background(), cfg, Want{Transfer: true}, now.Add(40*24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if later.TransferGB == nil || !later.TransferGB.Value.IsZero() || later.AMIGB != nil || later.ReplicaGB != nil {
				t.Errorf("later: %+v", later)
			}
		})
	}
}

// A replica bucket that `replicate setup` has not made yet is an empty
// standby, not an error; its configured class still shows.
func TestMeasureMissingReplica(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := &spec.Config{Stack: "wordpress", Primary: spec.Region{Region: "cn-northwest-1"}, DR: spec.Region{Region: "cn-north-1"}}
	cfg.Protect.Buckets = []spec.Bucket{{Name: "media", Replica: "not-made-yet", StorageClass: "STANDARD_IA"}}
	got, err := NewMeter(env, "cn-north-1", nil).Measure(context.Background(), cfg, Want{Replicas: true, AMIs: true, Snapshots: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := got.ReplicaGB["STANDARD_IA"]; !ok || !q.Value.IsZero() || len(got.ReplicaGB) != 1 {
		t.Fatalf("replica: %+v", got.ReplicaGB)
	}
	if got.AMIGB != nil || got.SnapshotGB != nil {
		t.Fatalf("nothing else is protected: %+v", got)
	}
}

// pagedRDS splits moto's one-page answers into pages of one snapshot with a
// Marker: moto ignores MaxRecords and Marker, and a real region with dozens
// of snapshots pages.
type pagedRDS struct {
	snapshotAPI
	calls int
}

func (p *pagedRDS) DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	p.calls++
	out, err := p.snapshotAPI.DescribeDBSnapshots(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	i := 0
	if in.Marker != nil {
		fmt.Sscan(*in.Marker, &i)
	}
	page := &rds.DescribeDBSnapshotsOutput{}
	if i < len(out.DBSnapshots) {
		page.DBSnapshots = out.DBSnapshots[i : i+1]
	}
	if i+1 < len(out.DBSnapshots) {
		page.Marker = aws.String(fmt.Sprint(i + 1))
	}
	return page, nil
}

func TestMeasureFollowsRDSPages(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	ctx := context.Background()
	c := rds.NewFromConfig(env.For("cn-north-1"))
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("wp-db"), DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("mysql"),
		AllocatedStorage: aws.Int32(30), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2", "p3"} {
		if _, err := c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
			DBInstanceIdentifier: aws.String("wp-db"), DBSnapshotIdentifier: aws.String(id), Tags: tags.RDS(tags.Base("wordpress")),
		}); err != nil {
			t.Fatal(err)
		}
	}
	m := NewMeter(env, "cn-north-1", nil)
	paged := &pagedRDS{snapshotAPI: m.RDS}
	m.RDS = paged
	cfg := &spec.Config{Stack: "wordpress"}
	cfg.Protect.Databases = []spec.Database{{ID: "wp-db"}}
	got, err := m.Measure(ctx, cfg, Want{Snapshots: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotGB == nil || got.SnapshotGB.Value.String() != "90" || paged.calls != 3 {
		t.Fatalf("snapshots %+v over %d calls", got.SnapshotGB, paged.calls)
	}
}
