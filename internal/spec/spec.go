// Package spec owns pilotlight.yaml: the model of one protected stack, its
// defaults, and validation that reports every problem with file and line.
// It knows nothing of AWS clients; region facts come from package partition.
package spec

import (
	"sort"
	"strconv"
	"strings"
)

// Config is one protected stack.
type Config struct {
	Stack   string  `yaml:"stack"`
	Primary Region  `yaml:"primary"`
	DR      Region  `yaml:"dr"`
	State   State   `yaml:"state"`
	Protect Protect `yaml:"protect"`
	Recover Recover `yaml:"recover"`
	Alarms  Alarms  `yaml:"alarms"`

	// File is the path the config was read from, for messages.
	File string `yaml:"-"`
}

// Alarms says where the CloudWatch alarms `deploy` makes send their
// notifications.
type Alarms struct {
	// SNSTopic is the ARN of a topic the alarms notify; empty, deploy
	// makes <stack>-pilotlight-alarms in the DR region.
	SNSTopic string `yaml:"sns_topic"`
}

// Region names one side of the stack.
type Region struct {
	Region string `yaml:"region"`
}

// State says where journals, reports and the catalogue live.
type State struct {
	// Path is a local directory (default .pilotlight) or s3://bucket/prefix.
	Path string `yaml:"path"`
	// LockTable is the DynamoDB table (key LockID) used with an s3:// path.
	LockTable string `yaml:"lock_table"`
}

// Protect lists what the protect plane copies to the DR region.
type Protect struct {
	Databases []Database `yaml:"databases"`
	Images    []Image    `yaml:"images"`
	Buckets   []Bucket   `yaml:"buckets"`
	// Parameters are SSM parameters the app reads at boot (the database
	// password): kept current in the DR region, re-encrypted there.
	// recover.app.vars.db_password_parameter is one without being listed.
	Parameters []Parameter `yaml:"parameters"`
}

// Parameter is an SSM parameter copied from the primary to the DR region
// under the same name.
type Parameter struct {
	Name string `yaml:"name"`
	// DRKMSKey encrypts a SecureString copy in the DR region; default the
	// account's aws/ssm key there.
	DRKMSKey string `yaml:"dr_kms_key"`
}

// Keep is a retention policy per region; a point is kept while it is among
// the newest N or younger than MaxAge (when set).
type Keep struct {
	Primary int      `yaml:"primary"`
	DR      int      `yaml:"dr"`
	MaxAge  Duration `yaml:"max_age"`
}

// Database is an RDS DB instance or Aurora DB cluster to snapshot.
type Database struct {
	ID string `yaml:"id"`
	// Kind is "instance" (default) or "cluster" (Aurora).
	Kind     string   `yaml:"kind"`
	Every    Schedule `yaml:"every"`
	Keep     Keep     `yaml:"keep"`
	DRKMSKey string   `yaml:"dr_kms_key"`
	// TargetRPO is the age of the newest DR copy beyond which status and
	// drills report the resource as not ready. Defaults to twice Every.
	TargetRPO Duration `yaml:"target_rpo"`
	// Engine is how the point reaches the DR region: "snapshot-copy" (the
	// default: CopyDBSnapshot), "aws-backup" (a backup job in the primary
	// region and a copy job to the DR vault), or "auto" (snapshot-copy
	// where RDS DescribeSourceRegions in the DR region lists the primary,
	// aws-backup otherwise). See points.ResolveEngine.
	Engine string `yaml:"engine"`
	// BackupRole is the IAM role AWS Backup assumes (aws-backup engine);
	// default the account's AWSBackupDefaultServiceRole.
	BackupRole string `yaml:"backup_role"`
	// VaultLock locks the DR backup vault (aws-backup and auto engines):
	// AWS Backup then refuses to delete a DR recovery point younger than
	// MinRetention, whoever asks. One vault serves the stack, so every
	// database that sets it must agree.
	VaultLock *VaultLock `yaml:"vault_lock"`
}

// VaultLock is AWS Backup's Vault Lock of the DR vault. Without
// ComplianceAfter it is governance mode (a principal allowed
// backup:DeleteBackupVaultLockConfiguration can lift it); with it, the
// lock becomes immutable once that grace time has passed (at least 3 days).
type VaultLock struct {
	MinRetention    Duration `yaml:"min_retention"`
	MaxRetention    Duration `yaml:"max_retention"`
	ComplianceAfter Duration `yaml:"compliance_after"`
}

// Image is an EC2 instance whose AMI is taken and copied.
type Image struct {
	Name     string           `yaml:"name"`
	Instance InstanceSelector `yaml:"instance"`
	Every    Schedule         `yaml:"every"`
	Keep     Keep             `yaml:"keep"`
	// NoReboot defaults to true: the seed's CreateImage rebooted production.
	NoReboot  *bool    `yaml:"no_reboot"`
	DRKMSKey  string   `yaml:"dr_kms_key"`
	TargetRPO Duration `yaml:"target_rpo"`
}

// InstanceSelector picks one running instance by id or by tags.
type InstanceSelector struct {
	ID  string            `yaml:"id"`
	Tag map[string]string `yaml:"tag"`
}

// Bucket is an S3 bucket replicated to a bucket in the DR region.
type Bucket struct {
	Name    string `yaml:"name"`
	Source  string `yaml:"source"`
	Replica string `yaml:"replica"`
	// CreateReplica lets `replicate setup` create the replica bucket.
	CreateReplica bool `yaml:"create_replica"`
	// StorageClass of replicated objects, e.g. STANDARD_IA as in the seed.
	StorageClass  string   `yaml:"storage_class"`
	DeleteMarkers bool     `yaml:"delete_markers"`
	RTC           bool     `yaml:"replication_time_control"`
	ReplicaKMSKey string   `yaml:"replica_kms_key"`
	Every         Schedule `yaml:"every"`
}

// Recover describes the stack to rebuild in the DR region.
type Recover struct {
	Network  Network          `yaml:"network"`
	Database *RecoverDatabase `yaml:"database"`
	Cache    *Cache           `yaml:"cache"`
	App      *App             `yaml:"app"`
	DNS      *DNS             `yaml:"dns"`
}

// Network is the DR network: either an existing one found by tag or ids, or
// one `prepare` builds as the seed's basic/ did.
type Network struct {
	VPC            Selector `yaml:"vpc"`
	CIDR           string   `yaml:"cidr"`
	AZs            int      `yaml:"azs"`
	PublicSubnets  []string `yaml:"public_subnets"`
	AppSubnets     []string `yaml:"app_subnets"`
	DBSubnets      []string `yaml:"db_subnets"`
	SecurityGroups struct {
		LoadBalancer string `yaml:"load_balancer"`
		App          string `yaml:"app"`
		DB           string `yaml:"db"`
	} `yaml:"security_groups"`
}

// Selector names an existing resource by id or by tags.
type Selector struct {
	ID  string            `yaml:"id"`
	Tag map[string]string `yaml:"tag"`
}

// IsZero reports whether nothing was selected.
func (s Selector) IsZero() bool { return s.ID == "" && len(s.Tag) == 0 }

// RecoverDatabase is how the database is restored.
type RecoverDatabase struct {
	From           string   `yaml:"from"`
	Identifier     string   `yaml:"identifier"`
	Class          string   `yaml:"class"`
	SubnetGroup    string   `yaml:"subnet_group"`
	SecurityGroups []string `yaml:"security_groups"`
	ParameterGroup string   `yaml:"parameter_group"`
	MultiAZ        bool     `yaml:"multi_az"`
	Port           int      `yaml:"port"`
	// FailbackKMSKey is a KMS key of the primary region: failback encrypts
	// the database it brings home with it. Required when the DR database
	// is encrypted, since a KMS key never leaves its region.
	FailbackKMSKey string `yaml:"failback_kms_key"`
}

// Cache is the Redis cache created empty at recovery, as the seed does.
type Cache struct {
	Engine        string `yaml:"engine"`
	EngineVersion string `yaml:"engine_version"`
	NodeType      string `yaml:"node_type"`
	Nodes         int    `yaml:"nodes"`
	SubnetGroup   string `yaml:"subnet_group"`
}

// App is the auto scaling group behind a load balancer.
type App struct {
	ImageFrom      string            `yaml:"image_from"`
	InstanceType   string            `yaml:"instance_type"`
	Capacity       Capacity          `yaml:"capacity"`
	UserData       string            `yaml:"user_data"`
	Vars           map[string]string `yaml:"vars"`
	KeyName        string            `yaml:"key_name"`
	LoadBalancer   LoadBalancer      `yaml:"load_balancer"`
	SecurityGroups []string          `yaml:"security_groups"`
}

// Capacity of the auto scaling group.
type Capacity struct {
	Min     int `yaml:"min"`
	Desired int `yaml:"desired"`
	Max     int `yaml:"max"`
}

// LoadBalancer in front of the app.
type LoadBalancer struct {
	Port            int    `yaml:"port"`
	HealthCheckPath string `yaml:"health_check_path"`
	// Matcher is the HTTP codes the DR target group counts as healthy
	// (default 200-399: WordPress answers its canonical redirect).
	Matcher string `yaml:"matcher"`
	// HealthCheckGrace is how long the auto scaling group leaves a new
	// instance to boot before its load balancer health counts (default 300s).
	HealthCheckGrace Duration `yaml:"health_check_grace"`
	// CertificateARN, an ACM certificate in the DR region, adds an HTTPS
	// listener on 443 to the DR load balancer (with HSTS, users cannot
	// reach a DR site over HTTP).
	CertificateARN string `yaml:"certificate_arn"`
}

// DNS modes; see DESIGN.md "Static stability".
const (
	DNSUpsert          = "upsert"
	DNSFailoverRecords = "failover-records"
	DNSManual          = "manual"
)

// DNS is how the custom domain moves to the DR region.
type DNS struct {
	Mode   string `yaml:"mode"`
	Zone   string `yaml:"zone"`
	Record string `yaml:"record"`
	// Type is alias (default: an A alias to the load balancer, using its
	// canonical hosted zone) or cname.
	Type string `yaml:"type"`
	TTL  int    `yaml:"ttl"`
	// PrimaryTarget is the production load balancer's DNS name, used by
	// failover-records mode for the PRIMARY record and its health check.
	PrimaryTarget string `yaml:"primary_target"`
	// DrillRecord, when set, is pointed at a drill's load balancer.
	DrillRecord string `yaml:"drill_record"`
	// HealthCheck is how Route 53 probes the production endpoint in
	// failover-records mode.
	HealthCheck HealthCheck `yaml:"health_check"`
}

// Database returns the protected database with that id.
func (c *Config) Database(id string) (Database, bool) {
	for _, d := range c.Protect.Databases {
		if d.ID == id {
			return d, true
		}
	}
	return Database{}, false
}

// Image returns the protected image with that name.
func (c *Config) Image(name string) (Image, bool) {
	for _, im := range c.Protect.Images {
		if im.Name == name {
			return im, true
		}
	}
	return Image{}, false
}

// Bucket returns the replicated bucket with that name.
func (c *Config) Bucket(name string) (Bucket, bool) {
	for _, b := range c.Protect.Buckets {
		if b.Name == name {
			return b, true
		}
	}
	return Bucket{}, false
}

// ResourceNames lists every protected resource name (databases, images,
// buckets), sorted; `--only` takes these.
func (c *Config) ResourceNames() []string {
	out := c.Names(KindAll)
	sort.Strings(out)
	return out
}

// IsCluster reports whether the database is an Aurora cluster.
func (d Database) IsCluster() bool { return strings.EqualFold(d.Kind, "cluster") }

// Reboot reports whether CreateImage may reboot the instance.
func (im Image) Reboot() bool { return im.NoReboot != nil && !*im.NoReboot }

// Summary is the one line `validate` prints.
func (c *Config) Summary() string {
	var b strings.Builder
	b.WriteString("stack " + c.Stack + ": " + c.Primary.Region + " -> " + c.DR.Region)
	b.WriteString(", " + plural(len(c.Protect.Databases), "database"))
	b.WriteString(", " + plural(len(c.Protect.Images), "image"))
	b.WriteString(", " + plural(len(c.Protect.Buckets), "bucket"))
	if c.Recover.DNS != nil {
		b.WriteString(", dns " + c.Recover.DNS.Mode)
	}
	return b.String()
}

func plural(n int, word string) string {
	s := strconv.Itoa(n) + " " + word
	if n != 1 {
		s += "s"
	}
	return s
}
