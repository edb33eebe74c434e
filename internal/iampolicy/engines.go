package iampolicy

import (
	"strings"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// The database engine names of spec.Database.Engine (points.EngineAWSBackup
// and points.EngineAuto), spelled here to keep this package free of the
// points package's SDK clients.
const (
	engineAWSBackup = "aws-backup"
	engineAuto      = "auto"
)

// vaultName is points.VaultName.
func (b *builder) vaultName() string { return "pilotlight-" + b.cfg.Stack }

// vault is the stack's backup vault in region.
func (b *builder) vault(region string) string {
	return b.arn("backup", region, "backup-vault:"+b.vaultName())
}

// recoveryPoints are the recovery points of the stack's vault in region: a
// recovery point of RDS is the DB (cluster) snapshot AWS Backup names
// awsbackup:job-… (a copy: awsbackup:copyjob-…), other services' are
// backup recovery-point ARNs.
func (b *builder) recoveryPoints(region string) []string {
	return []string{b.arn("backup", region, "recovery-point:*"),
		b.arn("rds", region, "snapshot:awsbackup:*"), b.arn("rds", region, "cluster-snapshot:awsbackup:*")}
}

// backupEngineRoles are the roles AWS Backup is given for the databases on
// the aws-backup or auto engine: each database's backup_role, else the
// account's AWSBackupDefaultServiceRole (what points.placeOf passes). None
// when every database copies its snapshots itself.
func (b *builder) backupEngineRoles() []string {
	var out []string
	for _, d := range b.cfg.Protect.Databases {
		if d.Engine != engineAWSBackup && d.Engine != engineAuto {
			continue
		}
		r := d.BackupRole
		switch {
		case r == "":
			r = b.role("service-role/AWSBackupDefaultServiceRole")
		case strings.HasPrefix(r, "arn:"):
			// Passed as configured.
		default:
			r = b.role(strings.TrimPrefix(r, "role/"))
		}
		out = append(out, r)
	}
	return uniq(out)
}

// backupEngine grants the aws-backup engine (internal/points/awsbackup.go):
// a backup job into the primary vault, a copy job to the DR vault, the
// points of both vaults listed and pruned, and the one RDS call of auto.
func (b *builder) backupEngine() {
	roles := b.backupEngineRoles()
	if len(roles) == 0 {
		return
	}
	auto := false
	for _, d := range b.cfg.Protect.Databases {
		auto = auto || d.Engine == engineAuto
	}
	if auto {
		// Asked in the DR region: may RDS copy snapshots from the primary?
		b.add("BackupEngineSourceRegions", []string{"rds:DescribeSourceRegions"}, []string{"*"}, b.inRegions(b.D))
	}
	b.add("BackupEngineStart", []string{"backup:StartBackupJob"}, []string{b.vault(b.P)}, nil)
	b.add("BackupEngineList", []string{"backup:ListRecoveryPointsByBackupVault"}, []string{b.vault(b.P), b.vault(b.D)}, nil)
	// Jobs have no resource-level permission; both are read where they
	// were started, the primary region.
	b.add("BackupEngineJobs", []string{"backup:DescribeBackupJob", "backup:DescribeCopyJob"}, []string{"*"}, b.inRegions(b.P))
	// A copy only of the primary's points, and only into the stack's DR
	// vault: never out of the account or to another vault.
	key := "backup:CopyTargets"
	b.add("BackupEngineCopy", []string{"backup:StartCopyJob"}, b.recoveryPoints(b.P), map[string]map[string]any{
		"ForAllValues:StringEquals": {key: []string{b.vault(b.D)}},
		"Null":                      {key: false},
	})
	// Retention: points carry the stack's tag (RecoveryPointTags).
	b.add("BackupEngineRetention", []string{"backup:DeleteRecoveryPoint"},
		append(b.recoveryPoints(b.P), b.recoveryPoints(b.D)...), stackTag(b.cfg.Stack))
	// StartBackupJob and StartCopyJob pass the configured role to AWS
	// Backup, that role alone.
	b.add("BackupEnginePassRole", []string{"iam:PassRole"}, roles,
		map[string]map[string]any{"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}})
}

// batchReplication grants S3 Batch Replication (s3sync.StartBatchReplication,
// BatchStatus, LatestBatchJob; `replicate sync --engine batch|auto`,
// `replicate status`) in the primary region, the source buckets' region.
// CreateJob has no resource-level permission: it is held to the primary
// region and to the one operation pilotlight starts, and the role the job
// assumes may be passed only when it is the stack's batch role (setup
// makes it) and only to S3.
func (b *builder) batchReplication() {
	b.add("ReplicateBatchCreate", []string{"s3:CreateJob"}, []string{"*"}, map[string]map[string]any{
		"StringEquals": {"aws:RequestedRegion": b.P, "s3:RequestJobOperation": "S3ReplicateObject"}})
	// DescribeJob and ListJobs (status finds a bucket's newest job) are
	// reads, held to the primary region like the other reads on "*". IAM
	// would take the job's ARN (…:s3:<region>:<account>:job/*), but moto's
	// policy validator refuses a region in an S3 ARN, and deploy puts this
	// policy on the Lambda's role in its moto tests.
	b.add("ReplicateBatchRead", []string{"s3:DescribeJob", "s3:ListJobs"}, []string{"*"}, b.inRegions(b.P))
	// S3 Batch Operations' principal is batchoperations.s3.amazonaws.com;
	// IAM sees the pass as to S3, which AWS documents both ways.
	b.add("ReplicateBatchPassRole", []string{"iam:PassRole"}, []string{b.role(b.batchRole())},
		map[string]map[string]any{"StringEquals": {"iam:PassedToService": []string{"s3.amazonaws.com", "batchoperations.s3.amazonaws.com"}}})
	// --engine auto reads S3's daily object count; GetMetricStatistics has
	// no resource-level permission.
	b.add("ReplicateObjectCount", []string{"cloudwatch:GetMetricStatistics"}, []string{"*"}, b.inRegions(b.P))
}

// batchRole is s3sync.BatchRoleName, spelled here like replicationRole.
func (b *builder) batchRole() string { return b.cfg.Stack + "-s3-batch-replication" }

// keyPolicyScope scopes the grants on a DR key's policy: the key itself
// when the config names it by ARN or id; for an alias, the keys of the DR
// region the alias names (kms:ResourceAliases), never every key, since
// PutKeyPolicy on any key would hand the holder every key in the region.
func (b *builder) keyPolicyScope(key string) ([]string, map[string]map[string]any) {
	region := b.D
	if _, _, r, _, res, ok := partition.ParseARN(key); ok {
		if r != region {
			return nil, nil
		}
		if strings.HasPrefix(res, "key/") {
			return []string{key}, nil
		}
		key = res // alias/…
	}
	if !strings.HasPrefix(key, "alias/") {
		return []string{b.arn("kms", region, "key/"+key)}, nil
	}
	return []string{b.arn("kms", region, "key/*")}, map[string]map[string]any{
		"ForAnyValue:StringEquals": {"kms:ResourceAliases": []string{key}},
	}
}

// backupVaults grants what prepare makes for the aws-backup engine
// (points.PrepareVaults): the stack's vault in each region, the DR vault's
// lock when a database asks for one, and AWSBackupDefaultServiceRole, only
// with the stack's boundary and only AWS Backup's managed policies, when a
// database names no backup_role.
func (b *builder) backupVaults() {
	if len(b.backupEngineRoles()) == 0 {
		return
	}
	b.add("PrepareBackupVaults", []string{"backup:DescribeBackupVault", "backup:CreateBackupVault"},
		[]string{b.vault(b.P), b.vault(b.D)}, nil)
	lock, defaultRole := false, false
	for _, d := range b.cfg.Protect.Databases {
		if d.Engine != engineAWSBackup && d.Engine != engineAuto {
			continue
		}
		lock = lock || d.VaultLock != nil
		defaultRole = defaultRole || d.BackupRole == ""
	}
	if lock {
		b.add("PrepareBackupVaultLock", []string{"backup:PutBackupVaultLockConfiguration"}, []string{b.vault(b.D)}, nil)
	}
	if !defaultRole {
		return
	}
	r := b.role("service-role/AWSBackupDefaultServiceRole")
	b.add("PrepareBackupRoleRead", []string{"iam:GetRole", "iam:ListAttachedRolePolicies"}, []string{r}, nil)
	b.add("PrepareBackupRoleCreate", []string{"iam:CreateRole"}, []string{r}, b.withBoundary())
	b.add("PrepareBackupRoleTag", []string{"iam:TagRole"}, []string{r}, b.requestTag())
	b.add("PrepareBackupRolePolicies", []string{"iam:AttachRolePolicy"}, []string{r}, map[string]map[string]any{
		"ArnLike": {"iam:PolicyARN": []string{
			b.p.ARN("iam", "", "aws", "policy/service-role/AWSBackupServiceRolePolicyForBackup"),
			b.p.ARN("iam", "", "aws", "policy/service-role/AWSBackupServiceRolePolicyForRestores")}}})
}
