package points

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// rdsAPI is the part of RDS this package uses.
type rdsAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	CreateDBSnapshot(context.Context, *rds.CreateDBSnapshotInput, ...func(*rds.Options)) (*rds.CreateDBSnapshotOutput, error)
	CopyDBSnapshot(context.Context, *rds.CopyDBSnapshotInput, ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error)
	DeleteDBSnapshot(context.Context, *rds.DeleteDBSnapshotInput, ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error)

	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
	CreateDBClusterSnapshot(context.Context, *rds.CreateDBClusterSnapshotInput, ...func(*rds.Options)) (*rds.CreateDBClusterSnapshotOutput, error)
	CopyDBClusterSnapshot(context.Context, *rds.CopyDBClusterSnapshotInput, ...func(*rds.Options)) (*rds.CopyDBClusterSnapshotOutput, error)
	DeleteDBClusterSnapshot(context.Context, *rds.DeleteDBClusterSnapshotInput, ...func(*rds.Options)) (*rds.DeleteDBClusterSnapshotOutput, error)
}

// ec2API is the part of EC2 this package uses.
type ec2API interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	CreateImage(context.Context, *ec2.CreateImageInput, ...func(*ec2.Options)) (*ec2.CreateImageOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	CopyImage(context.Context, *ec2.CopyImageInput, ...func(*ec2.Options)) (*ec2.CopyImageOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeregisterImage(context.Context, *ec2.DeregisterImageInput, ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error)
	DeleteSnapshot(context.Context, *ec2.DeleteSnapshotInput, ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
	DescribeSnapshots(context.Context, *ec2.DescribeSnapshotsInput, ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
}

// kmsAPI is the part of KMS this package uses.
type kmsAPI interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// waits bounds waiting for points. Polling is the SDK waiters' own
// exponential back-off between MinDelay and MaxDelay; Max* bound the whole
// wait (a cross-region copy of a large database can take hours).
type waits struct {
	MinDelay, MaxDelay time.Duration
	MaxCreate, MaxCopy time.Duration
}

// max is how long to wait for p: a copy in the DR region or a new point.
func (w waits) max(p Point, cfg *spec.Config) time.Duration {
	if p.Region == cfg.DR.Region {
		return w.MaxCopy
	}
	return w.MaxCreate
}

var defaultWaits = waits{MinDelay: 15 * time.Second, MaxDelay: 2 * time.Minute, MaxCreate: 6 * time.Hour, MaxCopy: 24 * time.Hour}

// clients hands out one SDK client per service and region, made on first
// use. Tests replace the constructors to wrap clients (paging, slow copies).
type clients struct {
	newRDS func(region string) rdsAPI
	newEC2 func(region string) ec2API
	newKMS func(region string) kmsAPI
	// newBackup and newSourceRegions serve the aws-backup and auto engines.
	newBackup        func(region string) backupAPI
	newSourceRegions func(region string) sourceRegionsAPI
	waits            waits
	// quotas, when set, replace the process-wide copy quotas (tests).
	quotas *copyQuotas

	mu   sync.Mutex
	rdsc map[string]rdsAPI
	ec2c map[string]ec2API
	kmsc map[string]kmsAPI
	keys map[string]*keyLookup
	bkc  map[string]backupAPI
	// sourceRegions remembers DescribeSourceRegions answers for the run.
	sourceRegions map[string]bool
	engines       map[string]EngineChoice
}

func newClients(env *awsenv.Env) *clients {
	return &clients{
		newRDS:    func(r string) rdsAPI { return rds.NewFromConfig(env.For(r)) },
		newEC2:    func(r string) ec2API { return ec2.NewFromConfig(env.For(r)) },
		newKMS:    func(r string) kmsAPI { return kms.NewFromConfig(env.For(r)) },
		newBackup: func(r string) backupAPI { return awsbackup.NewFromConfig(env.For(r)) },
		newSourceRegions: func(r string) sourceRegionsAPI {
			return rds.NewFromConfig(env.For(r))
		},
		waits: defaultWaits.in(env),
	}
}

func (c *clients) rds(region string) rdsAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rdsc == nil {
		c.rdsc = map[string]rdsAPI{}
	}
	if c.rdsc[region] == nil {
		c.rdsc[region] = c.newRDS(region)
	}
	return c.rdsc[region]
}

func (c *clients) ec2(region string) ec2API {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ec2c == nil {
		c.ec2c = map[string]ec2API{}
	}
	if c.ec2c[region] == nil {
		c.ec2c[region] = c.newEC2(region)
	}
	return c.ec2c[region]
}

func (c *clients) backup(region string) backupAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bkc == nil {
		c.bkc = map[string]backupAPI{}
	}
	if c.bkc[region] == nil {
		c.bkc[region] = c.newBackup(region)
	}
	return c.bkc[region]
}

func (c *clients) kms(region string) kmsAPI {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kmsc == nil {
		c.kmsc = map[string]kmsAPI{}
	}
	if c.kmsc[region] == nil {
		c.kmsc[region] = c.newKMS(region)
	}
	return c.kmsc[region]
}

// scope is what every kind operation needs to know about its resource.
type scope struct {
	cfg *spec.Config
	t   target
}

// source is what a new point is made from.
type source struct {
	ID        string // DB instance/cluster id or EC2 instance id
	ARN       string // DB instance or cluster ARN (AWS Backup's resource)
	Encrypted bool
	Engine    string
}

// kindOps is one kind of recovery point (aws-nuke style: a file per kind,
// registered by name). Operations start work and return at once, except
// wait, which returns when the point is available.
type kindOps interface {
	list(ctx context.Context, cfg *spec.Config, t target, region string) ([]Point, error)
	get(ctx context.Context, cfg *spec.Config, t target, region, id string) (Point, error)
	// source inspects the protected resource in the primary region.
	source(ctx context.Context, s scope) (source, error)
	// create starts a new point named name in the primary region.
	create(ctx context.Context, s scope, src source, name string, at time.Time) (Point, error)
	// wait returns p once available, with its tags complete.
	wait(ctx context.Context, s scope, p Point) (Point, error)
	// copy starts the copy of primary point p to the DR region; kmsKey is
	// the resolved DR key when p is encrypted.
	copy(ctx context.Context, s scope, p Point, kmsKey string) (Point, error)
	// remove deletes a managed point (and an AMI's snapshots).
	remove(ctx context.Context, s scope, p Point) error
}

var kindRegistry = map[Kind]func(*clients) kindOps{}

func registerKind(k Kind, f func(*clients) kindOps) { kindRegistry[k] = f }

func (c *clients) kind(k Kind) kindOps { return kindRegistry[k](c) }

// keyLookup resolves one DR key once per run, however many resources use it.
type keyLookup struct {
	once sync.Once
	arn  string
	err  error
}

// drKey resolves the DR KMS key of an encrypted resource in the DR region
// with DescribeKey, before anything is created: the key must be configured,
// exist there and be enabled. moto accepts an encrypted copy without a key
// and does not check key state, so these rules live here.
func (c *clients) drKey(ctx context.Context, s scope) (string, error) {
	dr := s.cfg.DR.Region
	if s.t.drKey == "" {
		return "", fmt.Errorf("%s is encrypted but %s is not set: name a KMS key in the DR region %s for the copy", s.t.name, s.t.drKeyField, dr)
	}
	c.mu.Lock()
	if c.keys == nil {
		c.keys = map[string]*keyLookup{}
	}
	l := c.keys[s.t.drKey]
	if l == nil {
		l = &keyLookup{}
		c.keys[s.t.drKey] = l
	}
	c.mu.Unlock()
	l.once.Do(func() { l.arn, l.err = c.describeKey(ctx, s.t.drKey, dr) })
	if l.err != nil {
		return "", fmt.Errorf("%s: %w", s.t.name, l.err)
	}
	return l.arn, nil
}

func (c *clients) describeKey(ctx context.Context, key, region string) (string, error) {
	return ResolveDRKey(ctx, c.kms(region), key, region)
}

// KeyDescriber is the one KMS call a DR key check makes.
type KeyDescriber interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// ResolveDRKey is the one rule for a usable DR KMS key, shared by backup
// (before anything is made) and status: it exists in region, is enabled,
// and resolves to an ARN in that region and partition. It returns the ARN.
func ResolveDRKey(ctx context.Context, k KeyDescriber, key, region string) (string, error) {
	out, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	var nf *kmstypes.NotFoundException
	switch {
	case errors.As(err, &nf):
		return "", fmt.Errorf("DR KMS key %q does not exist in %s: %w", key, region, err)
	case err != nil:
		return "", fmt.Errorf("DR KMS key %q in %s: %w", key, region, err)
	}
	md := out.KeyMetadata
	if md == nil {
		return "", fmt.Errorf("DR KMS key %q in %s: no key metadata", key, region)
	}
	if md.KeyState != kmstypes.KeyStateEnabled || !md.Enabled {
		return "", fmt.Errorf("DR KMS key %q in %s is %s, not Enabled", key, region, md.KeyState)
	}
	arn := aws.ToString(md.Arn)
	if part, _, r, _, _, ok := partition.ParseARN(arn); ok {
		p, _ := partition.Of(region)
		if r != region || part != p.ID {
			return "", fmt.Errorf("DR KMS key %q resolves to %s, which is not in the DR region %s", key, arn, region)
		}
	}
	return arn, nil
}

// OverRPO is the one rule for a recovery point that is too old: the age of
// the newest finished DR copy above a set target. A zero target is unset.
func OverRPO(age, target time.Duration) bool { return target > 0 && age > target }

// checkCopy refuses a copy that would cross a partition. AWS cannot copy
// between aws and aws-cn, but moto can, so the rule is enforced here.
func checkCopy(from, to, sourceARN string) error {
	if !partition.SamePartition(from, to) {
		return fmt.Errorf("refusing to copy from %s to %s: the regions are in different partitions", from, to)
	}
	if sourceARN == "" {
		return nil
	}
	part, _, _, _, _, ok := partition.ParseARN(sourceARN)
	p, _ := partition.Of(to)
	if ok && part != p.ID {
		return fmt.Errorf("refusing to copy %s to %s: it is in partition %s, the DR region in %s", sourceARN, to, part, p.ID)
	}
	return nil
}

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
