// Package iampolicy writes the least-privilege IAM policy for a configured
// stack: per verb, the actions that verb's code calls (and those AWS checks
// behind them, such as iam:PassRole), on the stack's own resources where
// the API allows resource-level permissions, in the stack's partition. It
// makes no AWS call; the account id is given.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pilotlight/pilotlight/internal/discover"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// The verbs a policy can be written for.
const (
	// Backup: recovery points (RDS snapshots, AMIs), their DR copies and
	// retention — what `backup`, `serve` and the Lambda do for databases
	// and images.
	Backup = "backup"
	// Replicate: back-fill and verify of replica buckets (`replicate sync`,
	// `replicate verify`, and the scheduled bucket runs).
	Replicate = "replicate"
	// Init: `pilotlight init`, the read-only discovery of the running
	// stack in the primary region: Describe, List and Get calls only.
	Init = "init"
	// Prepare: one-time set-up while every region is up: `replicate setup`
	// (versioning, replication rule and role) and `prepare` (DR network,
	// app role, DR load balancer, Route 53 failover records).
	Prepare = "prepare"
	// Failover: the recovery plane in the DR region: failover, drill,
	// failback and teardown.
	Failover = "failover"
	// Deploy: `pilotlight deploy` (Lambda role, function, schedules).
	Deploy = "deploy"
	// All is every verb above.
	All = "all"
)

// Verbs lists the verbs in the order All expands to.
func Verbs() []string { return []string{Init, Backup, Replicate, Prepare, Failover, Deploy} }

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement; Action and Resource are always lists.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// ParseVerbs splits a --for value ("backup,replicate", "all") into verbs.
func ParseVerbs(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(strings.ToLower(v))
		if v == "" {
			continue
		}
		var add []string
		switch v {
		case All:
			add = Verbs()
		case Backup, Replicate, Init, Prepare, Failover, Deploy:
			add = []string{v}
		default:
			return nil, fmt.Errorf("unknown verb %q: want %s or all", v, strings.Join(Verbs(), ", "))
		}
		for _, a := range add {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no verb given: want %s or all", strings.Join(Verbs(), ", "))
	}
	return out, nil
}

// Options narrow a policy with what the config does not hold.
type Options struct {
	// HostedZoneID is the id of recover.dns.zone (Z123…): record changes
	// are then granted on that zone alone, not on any zone of the account.
	HostedZoneID string
}

// For writes the policy for the given verbs of cfg in account.
func For(cfg *spec.Config, account string, verbs ...string) (*Document, error) {
	return ForWith(cfg, account, Options{}, verbs...)
}

// ForWith is For with options.
func ForWith(cfg *spec.Config, account string, opts Options, verbs ...string) (*Document, error) {
	if account == "" {
		return nil, fmt.Errorf("iam policy: no account id")
	}
	p, err := partition.Of(cfg.Primary.Region)
	if err != nil {
		return nil, fmt.Errorf("iam policy: primary region: %w", err)
	}
	if !partition.SamePartition(cfg.Primary.Region, cfg.DR.Region) {
		return nil, fmt.Errorf("iam policy: %s and %s are in different partitions", cfg.Primary.Region, cfg.DR.Region)
	}
	b := &builder{cfg: cfg, p: p, acct: account, P: cfg.Primary.Region, D: cfg.DR.Region, zoneID: opts.HostedZoneID}
	for _, v := range verbs {
		switch v {
		case Backup:
			b.backup()
		case Replicate:
			b.replicate()
		case Init:
			b.discovery()
		case Prepare:
			b.prepare()
		case Failover:
			b.failover()
		case Deploy:
			b.deploy()
		default:
			return nil, fmt.Errorf("iam policy: unknown verb %q", v)
		}
	}
	b.state()
	b.denyRetag()
	return &Document{Version: "2012-10-17", Statement: b.merge()}, nil
}

type builder struct {
	cfg   *spec.Config
	p     partition.Partition
	acct  string
	P, D  string
	stmts []Statement
	// zoneID is the configured hosted zone's id, when known.
	zoneID string
	// pr is the region recovery-plane grants are being written for.
	pr string
}

func (b *builder) add(sid string, actions, resources []string, cond map[string]map[string]any) {
	if len(actions) == 0 || len(resources) == 0 {
		return
	}
	b.stmts = append(b.stmts, Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources, Condition: cond})
}

// merge joins statements with one Sid (two verbs may add the same grant)
// and sorts and de-duplicates their lists, so that output is stable.
func (b *builder) merge() []Statement {
	var out []Statement
	idx := map[string]int{}
	for _, s := range b.stmts {
		if i, ok := idx[s.Sid]; ok {
			out[i].Action = append(out[i].Action, s.Action...)
			out[i].Resource = append(out[i].Resource, s.Resource...)
			continue
		}
		idx[s.Sid] = len(out)
		out = append(out, s)
	}
	for i := range out {
		out[i].Action = uniq(out[i].Action)
		out[i].Resource = uniq(out[i].Resource)
	}
	// IAM caps a managed policy at 6,144 characters and a role's inline
	// policies at 10,240: statements that differ only in their resources,
	// or only in their actions, become one, which grants exactly the same.
	out = compact(out, func(s Statement) string { return key(s.Effect, s.Condition, s.Action) },
		func(into *Statement, s Statement) { into.Resource = uniq(append(into.Resource, s.Resource...)) })
	out = compact(out, func(s Statement) string { return key(s.Effect, s.Condition, s.Resource) },
		func(into *Statement, s Statement) { into.Action = uniq(append(into.Action, s.Action...)) })
	return out
}

func key(effect string, cond map[string]map[string]any, list []string) string {
	c, _ := json.Marshal(cond) // map keys are sorted: equal conditions give equal text
	return effect + "\x00" + string(c) + "\x00" + strings.Join(list, "\x00")
}

// compact joins the statements with one key into the first of them.
func compact(in []Statement, keyOf func(Statement) string, join func(*Statement, Statement)) []Statement {
	var out []Statement
	idx := map[string]int{}
	for _, s := range in {
		k := keyOf(s)
		if i, ok := idx[k]; ok {
			join(&out[i], s)
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

// uniq returns xs sorted without repeats, in a new slice: statements may
// share one resource list (roles' Read, Write and Tag), and sorting or
// compacting it in place would change the others behind their backs.
func uniq(xs []string) []string {
	xs = append([]string(nil), xs...)
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (b *builder) arn(service, region, resource string) string {
	return b.p.ARN(service, region, b.acct, resource)
}

// both is an ARN in the primary and in the DR region.
func (b *builder) both(service, resource string) []string {
	return []string{b.arn(service, b.P, resource), b.arn(service, b.D, resource)}
}

// inRegions limits a statement on "*" (describe calls that take no
// resource-level permission) to the stack's two regions.
func (b *builder) inRegions(regions ...string) map[string]map[string]any {
	return map[string]map[string]any{"StringEquals": {"aws:RequestedRegion": uniq(regions)}}
}

func stackTag(stack string) map[string]map[string]any {
	return map[string]map[string]any{"StringEquals": {"aws:ResourceTag/" + tags.Stack: stack}}
}

// rdsPrefix is the start of every RDS identifier pilotlight makes: RDS
// keeps identifiers in lower case, and ARNs with them.
func (b *builder) rdsPrefix() string { return strings.ToLower(b.cfg.Stack) + "-" }

func (b *builder) viaService(service string, regions ...string) map[string]map[string]any {
	var vs []string
	for _, r := range regions {
		vs = append(vs, service+"."+r+"."+b.p.DNSSuffix)
	}
	return map[string]map[string]any{"StringEquals": {"kms:ViaService": uniq(vs)}}
}

// keyARNs scopes a KMS grant: the key itself when the config names it by
// ARN, else every key of the account in region (an alias or id is
// resolved only at run time; IAM authorises against the key, not the alias).
func (b *builder) keyARNs(key, region string) []string {
	if _, _, r, _, _, ok := partition.ParseARN(key); ok && strings.Contains(key, ":key/") && r == region {
		return []string{key}
	}
	return []string{b.arn("kms", region, "key/*")}
}

func (b *builder) backup() {
	c := b.cfg
	var describe []string
	var instances, clusters []string
	for _, d := range c.Protect.Databases {
		if d.IsCluster() {
			clusters = append(clusters, d.ID)
		} else {
			instances = append(instances, d.ID)
		}
	}
	pre := b.rdsPrefix()
	if len(instances) > 0 {
		describe = append(describe, "rds:DescribeDBInstances", "rds:DescribeDBSnapshots")
		var res []string
		for _, id := range instances {
			res = append(res, b.arn("rds", b.P, "db:"+strings.ToLower(id)))
		}
		res = append(res, b.both("rds", "snapshot:"+pre+"*")...)
		// CreateDBSnapshot and CopyDBSnapshot with tags need AddTagsToResource.
		b.add("BackupRDSSnapshots", []string{"rds:CreateDBSnapshot", "rds:CopyDBSnapshot", "rds:AddTagsToResource"}, res, nil)
		// Retention: only snapshots named by pilotlight for this stack and
		// tagged with it (another stack's names may share the prefix).
		b.add("BackupRDSRetention", []string{"rds:DeleteDBSnapshot"}, b.both("rds", "snapshot:"+pre+"*"), stackTag(c.Stack))
	}
	if len(clusters) > 0 {
		describe = append(describe, "rds:DescribeDBClusters", "rds:DescribeDBClusterSnapshots")
		var res []string
		for _, id := range clusters {
			res = append(res, b.arn("rds", b.P, "cluster:"+strings.ToLower(id)))
		}
		res = append(res, b.both("rds", "cluster-snapshot:"+pre+"*")...)
		b.add("BackupRDSClusterSnapshots", []string{"rds:CreateDBClusterSnapshot", "rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"}, res, nil)
		b.add("BackupRDSClusterRetention", []string{"rds:DeleteDBClusterSnapshot"}, b.both("rds", "cluster-snapshot:"+pre+"*"), stackTag(c.Stack))
	}
	if len(c.Protect.Images) > 0 {
		describe = append(describe, "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeImages", "ec2:DescribeSnapshots")
		// The instance side of CreateImage: scoped by id or by the
		// selector's tags when every image selects the same way.
		b.imageSources()
		images := []string{"arn:" + b.p.ID + ":ec2:" + b.P + "::image/*", "arn:" + b.p.ID + ":ec2:" + b.P + "::snapshot/*"}
		b.add("BackupAMICreate", []string{"ec2:CreateImage"}, images, nil)
		var both []string
		for _, r := range []string{b.P, b.D} {
			both = append(both, "arn:"+b.p.ID+":ec2:"+r+"::image/*", "arn:"+b.p.ID+":ec2:"+r+"::snapshot/*")
		}
		b.add("BackupAMICopyAndTag", []string{"ec2:CopyImage", "ec2:CreateTags"}, both, nil)
		// Image ids are random: retention is scoped by the stack tag that
		// pilotlight puts on every image and snapshot it makes.
		b.add("BackupAMIRetention", []string{"ec2:DeregisterImage", "ec2:DeleteSnapshot"}, both, stackTag(c.Stack))
	}
	b.add("BackupDescribe", describe, []string{"*"}, b.inRegions(b.P, b.D))
	b.backupEngine()

	// KMS: the DR key is looked up before an encrypted copy; RDS and EC2
	// then use it (and the source key) on the caller's behalf, which needs
	// grants and, for AMIs, data-key calls through EC2.
	var keys []string
	for _, d := range c.Protect.Databases {
		keys = append(keys, b.keyARNs(d.DRKMSKey, b.D)...)
	}
	for _, im := range c.Protect.Images {
		keys = append(keys, b.keyARNs(im.DRKMSKey, b.D)...)
	}
	if len(keys) > 0 {
		keys = append(keys, b.arn("kms", b.P, "key/*"))
		b.add("BackupKMSDescribe", []string{"kms:DescribeKey"}, keys, nil)
		b.add("BackupKMSGrant", []string{"kms:CreateGrant"}, keys,
			map[string]map[string]any{"Bool": {"kms:GrantIsForAWSResource": true}})
	}
	b.parameters()
	if len(c.Protect.Images) > 0 {
		b.add("BackupKMSImageCopy", []string{"kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKeyWithoutPlaintext"},
			[]string{b.arn("kms", b.P, "key/*"), b.arn("kms", b.D, "key/*")}, b.viaService("ec2", b.P, b.D))
	}
}

// parameters grants the DR copies of the app's SSM parameters
// (internal/secrets): read with decryption in the primary, written,
// re-encrypted and tagged in the DR region.
func (b *builder) parameters() {
	src, dst := b.parameterARNs(b.P), b.parameterARNs(b.D)
	if len(src) == 0 {
		return
	}
	b.add("BackupParametersRead", []string{"ssm:GetParameter", "ssm:ListTagsForResource"}, append(src, dst...), nil)
	b.add("BackupParametersCopy", []string{"ssm:PutParameter", "ssm:AddTagsToResource"}, dst, nil)
	b.add("BackupParametersKMSRead", []string{"kms:Decrypt"}, []string{b.arn("kms", b.P, "key/*")}, b.viaService("ssm", b.P))
	b.add("BackupParametersKMSWrite", []string{"kms:Encrypt"}, []string{b.arn("kms", b.D, "key/*")}, b.viaService("ssm", b.D))
}

// parameterARNs are the ARNs of the parameters kept in both regions.
func (b *builder) parameterARNs(region string) []string {
	var out []string
	for _, p := range secrets.Parameters(b.cfg) {
		out = append(out, b.arn("ssm", region, "parameter/"+strings.TrimPrefix(p.Name, "/")))
	}
	return out
}

// imageSources grants CreateImage on the protected instances.
func (b *builder) imageSources() {
	var ids []string
	tagSel := map[string]string{}
	byTag := true
	for _, im := range b.cfg.Protect.Images {
		if im.Instance.ID != "" {
			ids = append(ids, b.arn("ec2", b.P, "instance/"+im.Instance.ID))
			byTag = false
			continue
		}
		for k, v := range im.Instance.Tag {
			if old, ok := tagSel[k]; ok && old != v {
				byTag = false
			}
			tagSel[k] = v
		}
	}
	if len(ids) > 0 {
		b.add("BackupAMIInstancesById", []string{"ec2:CreateImage"}, ids, nil)
	}
	if len(ids) < len(b.cfg.Protect.Images) {
		cond := map[string]map[string]any(nil)
		if byTag && len(tagSel) > 0 {
			m := map[string]any{}
			for k, v := range tagSel {
				m["aws:ResourceTag/"+k] = v
			}
			cond = map[string]map[string]any{"StringEquals": m}
		}
		b.add("BackupAMIInstancesByTag", []string{"ec2:CreateImage"}, []string{b.arn("ec2", b.P, "instance/*")}, cond)
	}
}

func (b *builder) bucketARN(name string) string { return "arn:" + b.p.ID + ":s3:::" + name }

func (b *builder) replicate() {
	var buckets, src, dst []string
	for _, bk := range b.cfg.Protect.Buckets {
		buckets = append(buckets, b.bucketARN(bk.Source), b.bucketARN(bk.Replica))
		src = append(src, b.bucketARN(bk.Source)+"/*")
		dst = append(dst, b.bucketARN(bk.Replica)+"/*")
	}
	if len(buckets) == 0 {
		return
	}
	b.add("ReplicateBuckets", []string{"s3:ListBucket", "s3:GetEncryptionConfiguration", "s3:GetObjectLockConfiguration"}, buckets, nil)
	b.add("ReplicateRead", []string{"s3:GetObject", "s3:GetObjectTagging"}, append(append([]string{}, src...), dst...), nil)
	// HeadObject shows an object's retention and legal hold only to a
	// holder of these: without them a locked object's copy would silently
	// go unprotected.
	b.add("ReplicateReadLock", []string{"s3:GetObjectRetention", "s3:GetObjectLegalHold"}, src, nil)
	// --restore-archived: restore Glacier and Deep Archive objects of the
	// sources (never of a replica) before copying them.
	b.add("ReplicateRestore", []string{"s3:RestoreObject"}, src, nil)
	b.add("ReplicateWrite", []string{"s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:DeleteObject",
		"s3:PutObjectRetention", "s3:PutObjectLegalHold"}, dst, nil)
	b.batchReplication()
	b.inventoryRead()
	b.add("ReplicateKMSDescribe", []string{"kms:DescribeKey"}, []string{b.arn("kms", b.P, "key/*"), b.arn("kms", b.D, "key/*")}, nil)
	// Copies of SSE-KMS objects decrypt with the source key and encrypt
	// with the replica's, both through S3.
	b.add("ReplicateKMSViaS3", []string{"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"},
		[]string{b.arn("kms", b.P, "key/*"), b.arn("kms", b.D, "key/*")}, b.viaService("s3", b.P, b.D))
}

// inventoryRead lets verify read a source's S3 Inventory instead of
// listing it. The destination bucket is the source's configuration, not
// pilotlight's, so it is named by where S3 writes an inventory
// (<prefix>/<source>/<config id>/…) in a bucket of this account.
func (b *builder) inventoryRead() {
	var sources, objects, prefixes []string
	for _, bk := range b.cfg.Protect.Buckets {
		sources = append(sources, b.bucketARN(bk.Source))
		objects = append(objects, b.bucketARN("*/"+bk.Source+"/*"))
		prefixes = append(prefixes, bk.Source+"/*", "*/"+bk.Source+"/*")
	}
	own := map[string]any{"s3:ResourceAccount": b.acct}
	b.add("ReplicateInventoryConfig", []string{"s3:GetInventoryConfiguration"}, sources, nil)
	b.add("ReplicateInventoryList", []string{"s3:ListBucket"}, []string{b.bucketARN("*")},
		map[string]map[string]any{"StringEquals": own, "StringLike": {"s3:prefix": prefixes}})
	b.add("ReplicateInventoryRead", []string{"s3:GetObject"}, objects, map[string]map[string]any{"StringEquals": own})
}

// replicationRole is s3sync.RoleName; spelled here to keep this package
// free of the S3 client code.
func (b *builder) replicationRole() string { return b.cfg.Stack + "-s3-replication" }

// appRole is recovery's app role name (names.appRole), spelled here for
// the same reason.
func (b *builder) appRole() string { return b.cfg.Stack + "-dr-app" }

func (b *builder) profile(name string) string {
	return "arn:" + b.p.ID + ":iam::" + b.acct + ":instance-profile/" + name
}

func (b *builder) role(name string) string {
	return "arn:" + b.p.ID + ":iam::" + b.acct + ":role/" + name
}

// discovery grants exactly what `init` calls: read-only actions, which
// IAM scopes by resource for few of them, so they are limited to the
// primary region instead (global services excepted).
func (b *builder) discovery() {
	var regional, iamActs, r53 []string
	for _, a := range discover.Actions() {
		switch strings.SplitN(a, ":", 2)[0] {
		case "iam":
			iamActs = append(iamActs, a)
		case "route53":
			r53 = append(r53, a)
		default: // S3 too: its requests carry the primary's region
			regional = append(regional, a)
		}
	}
	b.add("InitDiscoverRegional", regional, []string{"*"}, map[string]map[string]any{"StringEquals": {"aws:RequestedRegion": b.P}})
	iamARN := "arn:" + b.p.ID + ":iam::" + b.acct + ":"
	b.add("InitDiscoverIAM", iamActs, []string{iamARN + "role/*", iamARN + "instance-profile/*", iamARN + "policy/*"}, nil)
	// Route 53 has no regions and its list calls no resource ARN.
	b.add("InitDiscoverRoute53", r53, []string{"*"}, nil)
}

func (b *builder) prepare() {
	var buckets []string
	for _, bk := range b.cfg.Protect.Buckets {
		buckets = append(buckets, b.bucketARN(bk.Source), b.bucketARN(bk.Replica))
	}
	if len(buckets) > 0 {
		b.add("PrepareReplicationBuckets", []string{
			"s3:GetBucketLocation", "s3:CreateBucket", "s3:PutBucketTagging", "s3:GetBucketVersioning", "s3:PutBucketVersioning",
			"s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:GetEncryptionConfiguration",
		}, buckets, nil)
		b.add("PrepareReplicationPassRole", []string{"iam:PassRole"}, []string{b.role(b.replicationRole())},
			map[string]map[string]any{"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}})
		b.add("PrepareKMSDescribe", []string{"kms:DescribeKey"}, []string{b.arn("kms", b.P, "key/*"), b.arn("kms", b.D, "key/*")}, nil)
	}
	// The roles set-up makes, by exact name: the replication role, the
	// batch replication role and the app's, each only with the stack's
	// permissions boundary.
	names := []string{}
	if len(b.cfg.Protect.Buckets) > 0 {
		names = append(names, b.replicationRole(), b.batchRole())
	}
	if b.cfg.Recover.App != nil {
		names = append(names, b.appRole())
	}
	b.roles("PrepareRoles", names...)
	if b.cfg.Recover.App != nil {
		b.add("PrepareInstanceProfiles", []string{
			"iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:TagInstanceProfile",
		}, []string{b.profile(b.appRole())}, nil)
	}
	b.recoveryPlane("Prepare", prepareActions)
	b.pinAndKeys()
	b.backupVaults()
}

func (b *builder) failover() {
	b.recoveryPlane("Failover", failoverActions)
	b.pinMoves()
	b.handoff()
	// status says whether deploy's alarms exist.
	b.add("StatusAlarms", []string{"cloudwatch:DescribeAlarms"}, []string{"*"}, b.inRegions(b.D))
	if b.cfg.Recover.App != nil {
		// The auto scaling group launches instances with the prepared
		// profile: its role is passed to EC2, and only that role.
		b.add("FailoverPassAppRole", []string{"iam:PassRole"}, []string{b.role(b.appRole())},
			map[string]map[string]any{"StringEquals": {"iam:PassedToService": b.p.ServicePrincipal("ec2")}})
		b.add("FailoverAppProfile", []string{"iam:GetRole", "iam:GetInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
			"iam:DeleteInstanceProfile", "iam:DeleteRolePolicy", "iam:DeleteRole"},
			[]string{b.role(b.appRole()), b.profile(b.appRole())}, nil)
	}
	// Failback copies the DR replica back to the source bucket.
	var buckets, objs []string
	for _, bk := range b.cfg.Protect.Buckets {
		buckets = append(buckets, b.bucketARN(bk.Source), b.bucketARN(bk.Replica))
		objs = append(objs, b.bucketARN(bk.Source)+"/*", b.bucketARN(bk.Replica)+"/*")
	}
	if len(buckets) > 0 {
		b.add("FailbackBuckets", []string{"s3:ListBucket", "s3:GetEncryptionConfiguration", "s3:GetObjectLockConfiguration"}, buckets, nil)
		// The copy back keeps Object Lock as replicate's copy does.
		b.add("FailbackObjects", []string{"s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload",
			"s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectLegalHold"}, objs, nil)
	}
	// Failback copies the DR database's snapshot back to the primary
	// region, where the copy is named like every pilotlight snapshot.
	if len(b.cfg.Protect.Databases) > 0 {
		b.add("FailbackRDSCopy", []string{"rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"},
			[]string{b.arn("rds", b.P, "snapshot:"+b.rdsPrefix()+"*"), b.arn("rds", b.P, "cluster-snapshot:"+b.rdsPrefix()+"*")}, nil)
	}
	// Failover reads the newest DR recovery point.
	var rdsRead []string
	for _, d := range b.cfg.Protect.Databases {
		if d.IsCluster() {
			rdsRead = append(rdsRead, "rds:DescribeDBClusterSnapshots")
		} else {
			rdsRead = append(rdsRead, "rds:DescribeDBSnapshots")
		}
	}
	if len(b.cfg.Protect.Images) > 0 {
		rdsRead = append(rdsRead, "ec2:DescribeImages")
	}
	b.add("FailoverPointsRead", rdsRead, []string{"*"}, b.inRegions(b.D))
	// A database on the aws-backup (or auto) engine restores from the
	// newest recovery point in the DR vault.
	if len(b.backupEngineRoles()) > 0 {
		b.add("FailoverBackupVaultRead", []string{"backup:ListRecoveryPointsByBackupVault"}, []string{b.vault(b.D)}, nil)
	}
	// Failover refuses to start without the DR copies of the app's secrets.
	if dst := b.parameterARNs(b.D); len(dst) > 0 {
		b.add("FailoverParametersRead", []string{"ssm:GetParameter", "ssm:ListTagsForResource"}, dst, nil)
	}
}

func sidName(svc string) string {
	switch svc {
	case "ec2":
		return "EC2"
	case "rds":
		return "RDS"
	case "elasticache":
		return "ElastiCache"
	case "elasticloadbalancing":
		return "ELB"
	case "autoscaling":
		return "AutoScaling"
	case "route53":
		return "Route53"
	}
	return strings.ToUpper(svc[:1]) + svc[1:]
}

// deploy grants what `pilotlight deploy` calls: its two roles, the
// function and one schedule per resource, all named <stack>-pilotlight*.
func (b *builder) deploy() {
	base := b.cfg.Stack + "-pilotlight"
	b.roles("DeployRoles", base, base+"-scheduler")
	b.add("DeployPassRoleToLambda", []string{"iam:PassRole"}, []string{b.role(base)},
		map[string]map[string]any{"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})
	b.add("DeployPassRoleToScheduler", []string{"iam:PassRole"}, []string{b.role(base + "-scheduler")},
		map[string]map[string]any{"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}})
	b.add("DeployFunction", []string{"lambda:GetFunction", "lambda:CreateFunction", "lambda:UpdateFunctionCode",
		"lambda:UpdateFunctionConfiguration", "lambda:TagResource"},
		[]string{b.arn("lambda", b.D, "function:"+base)}, nil)
	b.add("DeploySchedules", []string{"scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"},
		[]string{b.arn("scheduler", b.D, "schedule/*/"+b.cfg.Stack+"-*")}, nil)
	b.add("DeployListSchedules", []string{"scheduler:ListSchedules"}, []string{"*"}, b.inRegions(b.D))
	// deploy's alarms end in -rpo or -failures: the failover pin
	// (pilotlight-<stack>-failed-over) shares their prefix and must stay
	// out of deploy's reach, or a deploy while failed over could unpin.
	alarm := "alarm:pilotlight-" + b.cfg.Stack + "-*-"
	b.add("DeployAlarms", []string{"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"},
		[]string{b.arn("cloudwatch", b.D, alarm+"rpo"), b.arn("cloudwatch", b.D, alarm+"failures")}, nil)
	b.add("DescribeAlarms", []string{"cloudwatch:DescribeAlarms"}, []string{"*"}, b.inRegions(b.D))
	b.add("DeployAlarmTopic", []string{"sns:CreateTopic", "sns:TagResource"},
		[]string{b.arn("sns", b.D, base+"-alarms")}, nil)
}

// state grants access to the state store when it is remote (s3:// with a
// DynamoDB lock table in the DR region); the local file needs no AWS rights.
func (b *builder) state() {
	path := b.cfg.State.Path
	if !strings.HasPrefix(path, "s3://") {
		return
	}
	rest := strings.TrimPrefix(path, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	objs := b.bucketARN(bucket) + "/*"
	list := map[string]map[string]any(nil)
	if prefix != "" {
		objs = b.bucketARN(bucket) + "/" + prefix + "/*"
		list = map[string]map[string]any{"StringLike": {"s3:prefix": []string{prefix, prefix + "/*"}}}
	}
	b.add("StateBucket", []string{"s3:GetBucketLocation"}, []string{b.bucketARN(bucket)}, nil)
	b.add("StateList", []string{"s3:ListBucket"}, []string{b.bucketARN(bucket)}, list)
	b.add("StateObjects", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, []string{objs}, nil)
	table := b.cfg.State.LockTable
	if table == "" {
		table = "pilotlight-locks"
	}
	b.add("StateLock", []string{"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"},
		[]string{b.arn("dynamodb", b.D, "table/"+table)}, nil)
}
