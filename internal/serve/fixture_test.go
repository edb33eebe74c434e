package serve

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) {
	// The fixture protects on `every: 2s` to see many cycles in seconds;
	// a config outside tests cannot go below a minute.
	spec.ShortIntervalsForTests(time.Second)
	os.Exit(testenv.Main(m))
}

const (
	primary  = "cn-northwest-1"
	drRegion = "cn-north-1"
)

// fixture is one moto account holding the reference stack's database and
// media buckets, and a config that protects them every 2s.
type fixture struct {
	cfg   *spec.Config
	env   *awsenv.Env
	url   string
	store state.Store
}

const testConfig = `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - id: wordpress-db
      every: 2s
      keep: { primary: 2, dr: 2 }
  buckets:
    - name: media
      source: wp-media-prod-SUFFIX
      replica: wp-media-dr-SUFFIX
      every: 2s
`

var fixtures atomic.Int32

func newFixture(t *testing.T) *fixture {
	t.Helper()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	return newFixtureAt(t, acct.URL, acct.URL)
}

// newFixtureAt makes the resources through setupURL and points the
// fixture's env at url (a proxy in front of the same account).
func newFixtureAt(t *testing.T, setupURL, url string) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "pilotlight.yaml")
	// Bucket names are global across moto's accounts, as on AWS.
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(int(fixtures.Add(1)))
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(testConfig, "SUFFIX", suffix)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	setup := testenv.AWS(t, setupURL)
	if _, err := rds.NewFromConfig(setup.For(primary)).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("wordpress-db"), Engine: aws.String("mysql"),
		DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("secret123456"),
	}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct{ name, region string }{{"wp-media-prod-" + suffix, primary}, {"wp-media-dr-" + suffix, drRegion}} {
		c := s3.NewFromConfig(setup.For(b.region), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(b.region)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	src := s3.NewFromConfig(setup.For(primary), func(o *s3.Options) { o.UsePathStyle = true })
	for _, k := range []string{"2026/01/a.jpg", "2026/01/b.jpg", "2026/02/c.jpg"} {
		if _, err := src.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("wp-media-prod-" + suffix), Key: aws.String(k),
			Body: strings.NewReader("media " + k)}); err != nil {
			t.Fatal(err)
		}
	}
	store, err := state.OpenDir(filepath.Join(dir, ".pilotlight"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: cfg, env: testenv.AWS(t, url), url: url, store: store}
}

func (f *fixture) jobs(t *testing.T) []Job {
	t.Helper()
	jobs, err := Jobs(f.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func (f *fixture) runner() *AWSRunner {
	return &AWSRunner{Env: f.env, Cfg: f.cfg, Store: f.store}
}

// drSnapshots lists the snapshots of the database in the DR region.
func (f *fixture) drSnapshots(t *testing.T) []string {
	t.Helper()
	out, err := rds.NewFromConfig(f.env.For(drRegion)).DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.DBSnapshots {
		ids = append(ids, aws.ToString(s.DBSnapshotIdentifier))
	}
	return ids
}
