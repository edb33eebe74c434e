package points

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// The aws-backup engine. The RDS and Aurora user guides say a DB snapshot
// cannot be copied to or from the Beijing or Ningxia regions, and the China
// AWS Backup page says cross-region backups are allowed between them; so a
// database can instead be protected by an AWS Backup job in the primary
// region's vault and a copy job to the DR region's vault, with the DR
// vault's key. Its points are recovery points; for RDS a recovery point's
// ARN is the ARN of the DB (cluster) snapshot it names, which failover
// restores from as from any other DR snapshot.

// backupAPI is the part of AWS Backup this package uses.
type backupAPI interface {
	StartBackupJob(context.Context, *awsbackup.StartBackupJobInput, ...func(*awsbackup.Options)) (*awsbackup.StartBackupJobOutput, error)
	DescribeBackupJob(context.Context, *awsbackup.DescribeBackupJobInput, ...func(*awsbackup.Options)) (*awsbackup.DescribeBackupJobOutput, error)
	StartCopyJob(context.Context, *awsbackup.StartCopyJobInput, ...func(*awsbackup.Options)) (*awsbackup.StartCopyJobOutput, error)
	DescribeCopyJob(context.Context, *awsbackup.DescribeCopyJobInput, ...func(*awsbackup.Options)) (*awsbackup.DescribeCopyJobOutput, error)
	ListRecoveryPointsByBackupVault(context.Context, *awsbackup.ListRecoveryPointsByBackupVaultInput, ...func(*awsbackup.Options)) (*awsbackup.ListRecoveryPointsByBackupVaultOutput, error)
	DeleteRecoveryPoint(context.Context, *awsbackup.DeleteRecoveryPointInput, ...func(*awsbackup.Options)) (*awsbackup.DeleteRecoveryPointOutput, error)
}

// sourceRegionsAPI is the one RDS call the auto engine asks.
type sourceRegionsAPI interface {
	DescribeSourceRegions(context.Context, *rds.DescribeSourceRegionsInput, ...func(*rds.Options)) (*rds.DescribeSourceRegionsOutput, error)
}

// VaultName is the backup vault pilotlight uses in each region (`prepare`
// makes it; AWS Backup needs it to exist).
func VaultName(stack string) string { return "pilotlight-" + stack }

// RecoveryPointSnapshot returns the DB or DB cluster snapshot identifier a
// recovery point of RDS names: its ARN is the snapshot's ARN.
func RecoveryPointSnapshot(recoveryPointARN string) (string, bool) {
	_, svc, _, _, res, ok := partition.ParseARN(recoveryPointARN)
	if !ok || svc != "rds" {
		return "", false
	}
	for _, p := range []string{"snapshot:", "cluster-snapshot:"} {
		if id, found := strings.CutPrefix(res, p); found && id != "" {
			return id, true
		}
	}
	return "", false
}

// EngineChoice is the copy engine of one database and why it was chosen.
type EngineChoice struct {
	Engine string `json:"engine"`
	Why    string `json:"why"`
}

// sourceRegionsMemory is what auto remembers of DescribeSourceRegions.
type sourceRegionsMemory struct {
	Listed  bool      `json:"listed"`
	Checked time.Time `json:"checked"`
}

// sourceRegionsTTL is how long the answer is trusted: AWS adds regions
// rarely, and asking costs one call.
const sourceRegionsTTL = 7 * 24 * time.Hour

func sourceRegionsKey(dr, primary string) string {
	return "engines/source-regions/" + dr + "/" + primary + ".json"
}

// ResolveEngine says which copy engine database uses, and why: the
// configured engine, or for auto the answer of RDS DescribeSourceRegions in
// the DR region (snapshot-copy when it lists the primary region, aws-backup
// otherwise), remembered in store when store is not nil. validate, status
// and plan show the result.
func ResolveEngine(ctx context.Context, env *awsenv.Env, cfg *spec.Config, store state.Store, database string) (EngineChoice, error) {
	t, err := targetOf(cfg, database)
	if err != nil {
		return EngineChoice{}, err
	}
	return newClients(env).resolveEngine(ctx, cfg, store, t)
}

func (c *clients) resolveEngine(ctx context.Context, cfg *spec.Config, store state.Store, t target) (EngineChoice, error) {
	if t.db == nil {
		return EngineChoice{Engine: EngineSnapshotCopy, Why: "images are copied with CopyImage"}, nil
	}
	switch t.db.Engine {
	case "", EngineSnapshotCopy:
		return EngineChoice{Engine: EngineSnapshotCopy, Why: "configured (the default)"}, nil
	case EngineAWSBackup:
		return EngineChoice{Engine: EngineAWSBackup, Why: "configured"}, nil
	case EngineAuto:
	default:
		return EngineChoice{}, fmt.Errorf("%s: engine %q: want auto, snapshot-copy or aws-backup", t.name, t.db.Engine)
	}
	P, D := cfg.Primary.Region, cfg.DR.Region
	listed, err := c.sourceRegionListed(ctx, store, P, D)
	if err != nil {
		return EngineChoice{}, fmt.Errorf("%s: engine auto: %w", t.name, err)
	}
	if listed {
		return EngineChoice{Engine: EngineSnapshotCopy, Why: fmt.Sprintf("auto: RDS DescribeSourceRegions in %s lists %s", D, P)}, nil
	}
	return EngineChoice{Engine: EngineAWSBackup, Why: fmt.Sprintf("auto: RDS DescribeSourceRegions in %s does not list %s, so DB snapshots cannot be copied between them; AWS Backup copies instead", D, P)}, nil
}

func (c *clients) sourceRegionListed(ctx context.Context, store state.Store, primary, dr string) (bool, error) {
	key := sourceRegionsKey(dr, primary)
	if store != nil {
		if data, err := store.Get(ctx, key); err == nil {
			var m sourceRegionsMemory
			if json.Unmarshal(data, &m) == nil && time.Since(m.Checked) < sourceRegionsTTL {
				return m.Listed, nil
			}
		} else if !errors.Is(err, state.ErrNotFound) {
			return false, err
		}
	}
	c.mu.Lock()
	if v, ok := c.sourceRegions[key]; ok {
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	var listed bool
	pg := rds.NewDescribeSourceRegionsPaginator(c.newSourceRegions(dr), &rds.DescribeSourceRegionsInput{RegionName: aws.String(primary)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("RDS DescribeSourceRegions for %s: %s: %w", primary, dr, err)
		}
		for _, r := range out.SourceRegions {
			if aws.ToString(r.RegionName) == primary && aws.ToString(r.Status) != "unavailable" {
				listed = true
			}
		}
	}
	c.mu.Lock()
	if c.sourceRegions == nil {
		c.sourceRegions = map[string]bool{}
	}
	c.sourceRegions[key] = listed
	c.mu.Unlock()
	if store != nil {
		data, _ := json.Marshal(sourceRegionsMemory{Listed: listed, Checked: time.Now().UTC()})
		if err := store.Put(ctx, key, data); err != nil {
			return listed, err
		}
	}
	return listed, nil
}

// backupPlace is where one database's AWS Backup points live.
type backupPlace struct {
	resourceARN      string // the primary DB instance or cluster
	account, part    string
	vault            string // same name in both regions
	drVaultARN, role string
}

// placeOf derives the vault ARNs and role from the database's ARN, so that
// no extra call (STS) is needed.
func placeOf(cfg *spec.Config, t target, resourceARN string) (backupPlace, error) {
	part, _, _, account, _, ok := partition.ParseARN(resourceARN)
	if !ok || account == "" {
		return backupPlace{}, fmt.Errorf("%s: cannot read the account from ARN %q", t.name, resourceARN)
	}
	p, _ := partition.ByID(part)
	pl := backupPlace{resourceARN: resourceARN, account: account, part: part, vault: VaultName(cfg.Stack)}
	pl.drVaultARN = p.ARN("backup", cfg.DR.Region, account, "backup-vault:"+pl.vault)
	pl.role = t.db.BackupRole
	if pl.role == "" {
		pl.role = p.ARN("iam", "", account, "role/service-role/AWSBackupDefaultServiceRole")
	}
	return pl, nil
}

// primaryARN is the ARN of the protected database in the primary region,
// built from an ARN in the same account (a recovery point's).
func primaryARN(cfg *spec.Config, t target, anyARN string) (string, error) {
	part, _, _, account, _, ok := partition.ParseARN(anyARN)
	if !ok {
		return "", fmt.Errorf("%s: unreadable ARN %q", t.name, anyARN)
	}
	p, _ := partition.ByID(part)
	res := "db:" + t.name
	if t.kind == KindRDSCluster {
		res = "cluster:" + t.name
	}
	return p.ARN("rds", cfg.Primary.Region, account, res), nil
}

func lifecycle(k spec.Keep) *backuptypes.Lifecycle {
	if k.MaxAge.D <= 0 {
		return nil
	}
	// Retention counts too (prune below); the lifecycle is AWS's own
	// backstop, and with a Vault Lock the floor no one can shorten.
	days := int64(math.Ceil(k.MaxAge.D.Hours() / 24))
	return &backuptypes.Lifecycle{DeleteAfterDays: aws.Int64(max(days, 1))}
}

// advanceBackup is advance for a database on the aws-backup engine. What
// is running is named by the job record (the backup and copy job ids),
// and read back from AWS Backup; StartBackupJob and StartCopyJob carry
// idempotency tokens, so a retried call does not start a second job.
func (cy *cycle) advanceBackup(ctx context.Context, t target, res *ResourceResult, job Job, now time.Time) (JobPhase, string) {
	fail := func(err error) (JobPhase, string) { return PhaseFailed, err.Error() }
	if cy.opts.Store == nil {
		return fail(fmt.Errorf("%s: the aws-backup engine records its jobs in the state store: step with a store", t.name))
	}
	s := scope{cfg: cy.cfg, t: t}
	P, D := cy.cfg.Primary.Region, cy.cfg.DR.Region
	bp := cy.c.backup(P)
	running := job.Engine == EngineAWSBackup && !job.Phase.Finished()
	joined := job.Resource != "" && cy.opts.Tick != "" && job.Tick == cy.opts.Tick && job.Phase != PhaseFailed
	res.Point, res.Copied = job.Point, job.Copy

	switch {
	case running && job.Phase == PhaseSnapshotting:
		out, err := bp.DescribeBackupJob(ctx, &awsbackup.DescribeBackupJobInput{BackupJobId: aws.String(job.BackupJob)})
		if err != nil {
			return fail(fmt.Errorf("%s: backup job %s: %s: %w", t.name, job.BackupJob, P, err))
		}
		switch out.State {
		case backuptypes.BackupJobStateCompleted:
			res.Point = aws.ToString(out.RecoveryPointArn)
			return cy.startBackupCopy(ctx, s, res, res.Point)
		case backuptypes.BackupJobStateCreated, backuptypes.BackupJobStatePending, backuptypes.BackupJobStateRunning:
			return PhaseSnapshotting, ""
		}
		return fail(fmt.Errorf("%s: backup job %s in %s is %s: %s", t.name, job.BackupJob, P, out.State, aws.ToString(out.StatusMessage)))
	case running && job.Phase == PhaseCopying && job.CopyJob == "":
		return cy.startBackupCopy(ctx, s, res, job.Point)
	case running && job.Phase == PhaseCopying:
		// Copy jobs belong to the region that started them.
		out, err := bp.DescribeCopyJob(ctx, &awsbackup.DescribeCopyJobInput{CopyJobId: aws.String(job.CopyJob)})
		if err != nil || out.CopyJob == nil {
			return fail(fmt.Errorf("%s: copy job %s: %s: %v", t.name, job.CopyJob, P, err))
		}
		switch out.CopyJob.State {
		case backuptypes.CopyJobStateCompleted:
			res.Copied = aws.ToString(out.CopyJob.DestinationRecoveryPointArn)
			return cy.pruneBackup(ctx, s, res, job.Point, now)
		case backuptypes.CopyJobStateCreated, backuptypes.CopyJobStateRunning:
			return PhaseCopying, ""
		}
		return fail(fmt.Errorf("%s: copy job %s to %s is %s: %s", t.name, job.CopyJob, D, out.CopyJob.State, aws.ToString(out.CopyJob.StatusMessage)))
	case running:
		return cy.pruneBackup(ctx, s, res, job.Point, now)
	case cy.opts.ContinueOnly || joined:
		if job.Point == "" {
			return PhaseDone, ""
		}
		return cy.pruneBackup(ctx, s, res, job.Point, now)
	}

	src, err := cy.c.kind(t.kind).source(ctx, s)
	if err != nil {
		return fail(err)
	}
	pl, err := placeOf(cy.cfg, t, src.ARN)
	if err != nil {
		return fail(err)
	}
	name := cy.name(t, now)
	out, err := bp.StartBackupJob(ctx, &awsbackup.StartBackupJobInput{
		BackupVaultName: aws.String(pl.vault), ResourceArn: aws.String(pl.resourceARN), IamRoleArn: aws.String(pl.role),
		// The same token on a retry of this start (AWS answers with the job
		// it started); a new one after the previous job failed.
		IdempotencyToken:  aws.String(clientToken(cy.cfg.Stack, t.name, name, job.BackupJob)),
		Lifecycle:         lifecycle(t.keep),
		RecoveryPointTags: pointTags(cy.cfg, t, src.ID, now, ""),
	})
	if err != nil {
		return fail(fmt.Errorf("%s: start backup job of %s in vault %s: %s: %w", t.name, pl.resourceARN, pl.vault, P, err))
	}
	res.Created, res.BackupJob = name, aws.ToString(out.BackupJobId)
	res.Point, res.Copied = aws.ToString(out.RecoveryPointArn), ""
	cy.opts.Log.Info("backup job started", "stack", cy.cfg.Stack, "resource", t.name, "job", res.BackupJob, "region", P)
	return PhaseSnapshotting, ""
}

// startBackupCopy starts the copy job of recovery point rp to the DR vault
// when AWS's copy quota has room (a copy of an RDS point is a DB snapshot
// copy, counted as one).
func (cy *cycle) startBackupCopy(ctx context.Context, s scope, res *ResourceResult, rp string) (JobPhase, string) {
	resARN, err := primaryARN(s.cfg, s.t, rp)
	if err != nil {
		return PhaseFailed, err.Error()
	}
	pl, err := placeOf(s.cfg, s.t, resARN)
	if err != nil {
		return PhaseFailed, err.Error()
	}
	var copyJob string
	err = cy.c.withCopySlot(ctx, cy.opts.Store, s, 1, func() error {
		out, err := cy.c.backup(s.cfg.Primary.Region).StartCopyJob(ctx, &awsbackup.StartCopyJobInput{
			RecoveryPointArn: aws.String(rp), SourceBackupVaultName: aws.String(pl.vault),
			DestinationBackupVaultArn: aws.String(pl.drVaultARN), IamRoleArn: aws.String(pl.role),
			IdempotencyToken: aws.String(clientToken(s.cfg.Stack, rp, s.cfg.DR.Region)),
			Lifecycle:        lifecycle(s.t.keep),
		})
		if err != nil {
			return fmt.Errorf("%s: start copy job of %s to %s: %w", s.t.name, rp, pl.drVaultARN, err)
		}
		copyJob = aws.ToString(out.CopyJobId)
		return nil
	})
	if errors.Is(err, errNoSlot) {
		res.Queued = true
		return PhaseCopying, ""
	}
	if err != nil {
		return PhaseFailed, err.Error()
	}
	res.Point, res.CopyJob = rp, copyJob
	return PhaseCopying, ""
}

// pruneBackup applies keep to the recovery points of the database in both
// vaults (the lifecycle is the backstop), never deleting the newest
// completed DR point nor one in use.
func (cy *cycle) pruneBackup(ctx context.Context, s scope, res *ResourceResult, anyARN string, now time.Time) (JobPhase, string) {
	resARN, err := primaryARN(s.cfg, s.t, anyARN)
	if err != nil {
		return PhaseFailed, err.Error()
	}
	inUse, err := cy.pointsInUse(ctx)
	if err != nil {
		return PhaseFailed, fmt.Sprintf("retention of %s skipped: %v", s.t.name, err)
	}
	var errs []error
	for _, r := range []struct{ region, role string }{{s.cfg.DR.Region, "dr"}, {s.cfg.Primary.Region, "primary"}} {
		ps, err := cy.c.listRecoveryPoints(ctx, s.cfg, s.t, r.region, resARN)
		if err != nil {
			return PhaseFailed, err.Error()
		}
		newest := ""
		if r.role == "dr" {
			if np, ok := newestAvailable(ps); ok {
				newest = np.ID
			}
		}
		for _, p := range PruneInUse(ps, s.t.keep, r.role, newest, inUse, now) {
			_, err := cy.c.backup(r.region).DeleteRecoveryPoint(ctx, &awsbackup.DeleteRecoveryPointInput{
				BackupVaultName: aws.String(VaultName(s.cfg.Stack)), RecoveryPointArn: aws.String(p.ARN)})
			if err != nil {
				errs = append(errs, fmt.Errorf("delete recovery point %s: %s: %w", p.ARN, r.region, err))
				continue
			}
			res.Deleted = append(res.Deleted, r.region+"/"+p.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return PhaseFailed, fmt.Sprintf("retention: %v", err)
	}
	return PhaseDone, ""
}

// listRecoveryPoints lists the database's recovery points in region's
// vault as points: ID is the snapshot the point names (what restore
// takes), ARN the recovery point's. A vault that does not exist has none.
func (c *clients) listRecoveryPoints(ctx context.Context, cfg *spec.Config, t target, region, resourceARN string) ([]Point, error) {
	vault := VaultName(cfg.Stack)
	pg := awsbackup.NewListRecoveryPointsByBackupVaultPaginator(c.backup(region), &awsbackup.ListRecoveryPointsByBackupVaultInput{
		BackupVaultName: aws.String(vault), ByResourceArn: aws.String(resourceARN)})
	var out []Point
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if apiCode(err) == "ResourceNotFoundException" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list recovery points of %s in vault %s: %s: %w", t.name, vault, region, err)
		}
		for _, rp := range page.RecoveryPoints {
			arn := aws.ToString(rp.RecoveryPointArn)
			id, ok := RecoveryPointSnapshot(arn)
			if !ok {
				continue
			}
			p := Point{ID: id, ARN: arn, Name: id, Resource: t.name, Kind: t.kind, Region: region, Source: t.name,
				Created: aws.ToTime(rp.CreationDate).UTC(), Managed: true, Encrypted: rp.IsEncrypted,
				KMSKey: aws.ToString(rp.EncryptionKeyArn), SizeGB: int(aws.ToInt64(rp.BackupSizeInBytes) >> 30)}
			switch rp.Status {
			case backuptypes.RecoveryPointStatusCompleted, backuptypes.RecoveryPointStatusAvailable:
				p.Status = StatusAvailable
			case backuptypes.RecoveryPointStatusCreating:
				p.Status = StatusCreating
				if region == cfg.DR.Region {
					p.Status = StatusCopying
				}
			case backuptypes.RecoveryPointStatusDeleting, backuptypes.RecoveryPointStatusExpired:
				p.Status = "deleting"
			default:
				p.Status = StatusFailed
			}
			out = append(out, p)
		}
	}
	sortNewestFirst(out)
	return out, nil
}

// NewestBackupDR returns the newest completed recovery point of database in
// the DR vault, as a point whose ID is the DB (cluster) snapshot to
// restore and whose ARN is the recovery point's. It calls only the DR
// region. Recovery uses it for a database on the aws-backup engine (or
// auto resolved to it): restore with RestoreDBInstanceFromDBSnapshot (or
// RestoreDBClusterFromSnapshot) and DBSnapshotIdentifier = ID.
func NewestBackupDR(ctx context.Context, env *awsenv.Env, cfg *spec.Config, database string) (Point, error) {
	return newestBackupDR(ctx, newClients(env), cfg, database)
}

func newestBackupDR(ctx context.Context, c *clients, cfg *spec.Config, database string) (Point, error) {
	t, err := targetOf(cfg, database)
	if err != nil {
		return Point{}, err
	}
	if t.db == nil {
		return Point{}, fmt.Errorf("%s is an image: AWS Backup points are kept for databases only", database)
	}
	// The primary database's ARN, without reaching the primary region: the
	// account comes from the DR vault's points, listed unfiltered.
	pg := awsbackup.NewListRecoveryPointsByBackupVaultPaginator(c.backup(cfg.DR.Region), &awsbackup.ListRecoveryPointsByBackupVaultInput{
		BackupVaultName: aws.String(VaultName(cfg.Stack))})
	var all []Point
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return Point{}, fmt.Errorf("list recovery points in vault %s: %s: %w", VaultName(cfg.Stack), cfg.DR.Region, err)
		}
		for _, rp := range page.RecoveryPoints {
			arn := aws.ToString(rp.ResourceArn)
			want, err := primaryARN(cfg, t, aws.ToString(rp.RecoveryPointArn))
			if err != nil || arn != want {
				continue
			}
			ps, err := c.listRecoveryPoints(ctx, cfg, t, cfg.DR.Region, arn)
			if err != nil {
				return Point{}, err
			}
			all = ps
			break
		}
		if all != nil {
			break
		}
	}
	if p, ok := newestAvailable(all); ok {
		return p, nil
	}
	return Point{}, fmt.Errorf("%s: vault %s in %s: %w (no completed recovery point)", database, VaultName(cfg.Stack), cfg.DR.Region, ErrNotFound)
}
