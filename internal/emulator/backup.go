package emulator

// AWS Backup's job API, simulated on top of moto's real RDS snapshots.
//
// moto 5.2.1 has backup vaults (and their locks) but no backup, copy or
// restore jobs. This is emulator machinery for tests and the demo, like
// AWS's clock: it answers only the calls pilotlight's aws-backup engine
// makes (StartBackupJob, DescribeBackupJob, StartCopyJob, DescribeCopyJob,
// ListRecoveryPointsByBackupVault, DeleteRecoveryPoint) and does what AWS
// Backup does for RDS: a backup job takes a DB snapshot, a copy job copies
// it to the destination vault's region with that vault's key, and a
// recovery point's ARN is its snapshot's ARN. AWS names those snapshots
// awsbackup:job-<id> and awsbackup:copyjob-<id>; moto refuses a colon in
// an identifier, so here they are awsbackup-job-<id> and
// awsbackup-copyjob-<id> (pilotlight reads the snapshot from the ARN
// either way). The snapshots are moto's, made through
// the proxy (so they take AWS's time when the clock runs); a job's state is
// read from its snapshot's. It is never product logic.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// SimulateBackupJobs makes the proxy answer AWS Backup's job API, which
// moto lacks, with jobs on moto's RDS snapshots (see the file comment).
// Vault calls (CreateBackupVault, DescribeBackupVault, the lock) still go
// to moto.
func (p *Proxy) SimulateBackupJobs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.backup == nil {
		p.backup = &backupSim{proxy: p, tokens: map[string]string{}, jobs: map[string]*simJob{}, points: map[string]*simPoint{},
			attached: map[string][]string{}}
	}
}

type backupSim struct {
	proxy  *Proxy
	mu     sync.Mutex
	tokens map[string]string    // idempotency token → job id
	jobs   map[string]*simJob   // backup and copy jobs by id
	points map[string]*simPoint // recovery point ARN → point
	// attached are AWS Backup's managed policies attached to roles
	// (backup_iam.go), by role name.
	attached map[string][]string
}

type simJob struct {
	id, kind     string // kind: backup or copy
	region       string // where it was started (and is described)
	created      time.Time
	source, dest string // recovery point ARNs (backup: dest only)
	destVaultARN string
	resourceARN  string
	vault        string
	failed       string
}

type simPoint struct {
	arn, region, vault, resourceARN, snapshot, keyARN string
	cluster, encrypted                                bool
	created                                           time.Time
}

// backupRoute maps a REST request of AWS Backup to the operation it
// simulates; "" for what moto answers itself.
func backupRoute(r *http.Request) (op string, args []string) {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i := range parts {
		parts[i], _ = url.PathUnescape(parts[i])
	}
	switch {
	case r.Method == http.MethodPut && len(parts) == 1 && parts[0] == "backup-jobs":
		return "StartBackupJob", nil
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "backup-jobs":
		return "DescribeBackupJob", parts[1:]
	case r.Method == http.MethodPut && len(parts) == 1 && parts[0] == "copy-jobs":
		return "StartCopyJob", nil
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "copy-jobs":
		return "DescribeCopyJob", parts[1:]
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "backup-vaults" && parts[2] == "recovery-points":
		return "ListRecoveryPointsByBackupVault", parts[1:2]
	case r.Method == http.MethodDelete && len(parts) >= 4 && parts[0] == "backup-vaults" && parts[2] == "recovery-points":
		// The recovery point's ARN is one path label, escaped by the SDK.
		return "DeleteRecoveryPoint", []string{parts[1], strings.Join(parts[3:], "/")}
	}
	return "", nil
}

type simError struct {
	status     int
	code, text string
}

func (e *simError) Error() string { return e.code + ": " + e.text }

func simErr(status int, code, format string, args ...any) error {
	return &simError{status: status, code: code, text: fmt.Sprintf(format, args...)}
}

// serve answers one simulated call; it returns the HTTP status.
func (b *backupSim) serve(w http.ResponseWriter, r *http.Request, region, op string, args []string, body []byte) int {
	ctx := r.Context()
	var out any
	var err error
	switch op {
	case "StartBackupJob":
		out, err = b.startBackup(ctx, region, body)
	case "DescribeBackupJob":
		out, err = b.describeBackup(ctx, region, args[0])
	case "StartCopyJob":
		out, err = b.startCopy(ctx, region, body)
	case "DescribeCopyJob":
		out, err = b.describeCopy(ctx, region, args[0])
	case "ListRecoveryPointsByBackupVault":
		out, err = b.list(ctx, region, args[0], r.URL.Query().Get("resourceArn"))
	case "DeleteRecoveryPoint":
		out, err = b.delete(ctx, region, args[0], args[1])
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var se *simError
		var ae smithy.APIError
		switch {
		case errors.As(err, &se):
		case errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient:
			// What RDS refused, AWS Backup reports as the caller's mistake.
			se = &simError{status: 400, code: "InvalidParameterValueException", text: err.Error()}
		default:
			se = &simError{status: 500, code: "ServiceUnavailableException", text: err.Error()}
		}
		w.Header().Set("X-Amzn-ErrorType", se.code)
		w.WriteHeader(se.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"Code": se.code, "Message": se.text})
		return se.status
	}
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
	return http.StatusOK
}

// rds and backup are clients through the proxy itself, so that the
// snapshots take AWS's time when the clock runs and die with their region.
func (b *backupSim) rds(region string) *rds.Client {
	return rds.New(rds.Options{Region: region, BaseEndpoint: aws.String(b.proxy.URL), Credentials: simCreds,
		RetryMaxAttempts: 1})
}

func (b *backupSim) vaultAPI(region string) *awsbackup.Client {
	return awsbackup.New(awsbackup.Options{Region: region, BaseEndpoint: aws.String(b.proxy.URL), Credentials: simCreds,
		RetryMaxAttempts: 1})
}

var simCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "aws-backup-simulation"}, nil
})

// vault reads a vault from moto: AWS Backup refuses jobs into a vault that
// does not exist, which is what prepare is for.
func (b *backupSim) vault(ctx context.Context, region, name string) (*awsbackup.DescribeBackupVaultOutput, error) {
	out, err := b.vaultAPI(region).DescribeBackupVault(ctx, &awsbackup.DescribeBackupVaultInput{BackupVaultName: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException" {
		return nil, simErr(400, "ResourceNotFoundException", "Backup vault %s in %s does not exist", name, region)
	}
	return out, err
}

func newJobID() string {
	var x [16]byte
	_, _ = rand.Read(x[:])
	h := hex.EncodeToString(x[:])
	return strings.ToUpper(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

type lifecycleIn struct {
	DeleteAfterDays *int64 `json:",omitempty"`
}

func (b *backupSim) startBackup(ctx context.Context, region string, body []byte) (any, error) {
	var in struct {
		BackupVaultName, ResourceArn, IamRoleArn, IdempotencyToken string
		RecoveryPointTags                                          map[string]string
		Lifecycle                                                  *lifecycleIn
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, simErr(400, "InvalidParameterValueException", "%v", err)
	}
	b.mu.Lock()
	if id, ok := b.tokens["backup/"+in.IdempotencyToken]; ok && in.IdempotencyToken != "" {
		j := b.jobs[id]
		b.mu.Unlock()
		return map[string]any{"BackupJobId": j.id, "RecoveryPointArn": j.dest, "CreationDate": epoch(j.created)}, nil
	}
	b.mu.Unlock()
	part, svc, resRegion, account, res, ok := partition.ParseARN(in.ResourceArn)
	if !ok || svc != "rds" || resRegion != region {
		return nil, simErr(400, "InvalidParameterValueException", "the simulation backs up RDS resources of %s only, not %q", region, in.ResourceArn)
	}
	if in.IamRoleArn == "" {
		return nil, simErr(400, "InvalidParameterValueException", "IamRoleArn is required")
	}
	if _, err := b.vault(ctx, region, in.BackupVaultName); err != nil {
		return nil, err
	}
	id := newJobID()
	snap := "awsbackup-job-" + strings.ToLower(id)
	p, _ := partition.ByID(part)
	pt := &simPoint{region: region, vault: in.BackupVaultName, resourceARN: in.ResourceArn, snapshot: snap, created: time.Now().UTC()}
	var tags []rdstypes.Tag
	for k, v := range in.RecoveryPointTags {
		tags = append(tags, rdstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	c := b.rds(region)
	switch {
	case strings.HasPrefix(res, "db:"):
		out, err := c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(strings.TrimPrefix(res, "db:")),
			DBSnapshotIdentifier: aws.String(snap), Tags: tags})
		if err != nil {
			return nil, fmt.Errorf("backup job of %s: %w", in.ResourceArn, err)
		}
		pt.encrypted, pt.keyARN = aws.ToBool(out.DBSnapshot.Encrypted), aws.ToString(out.DBSnapshot.KmsKeyId)
		pt.arn = p.ARN("rds", region, account, "snapshot:"+snap)
	case strings.HasPrefix(res, "cluster:"):
		out, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String(strings.TrimPrefix(res, "cluster:")),
			DBClusterSnapshotIdentifier: aws.String(snap), Tags: tags})
		if err != nil {
			return nil, fmt.Errorf("backup job of %s: %w", in.ResourceArn, err)
		}
		pt.cluster = true
		pt.encrypted, pt.keyARN = aws.ToBool(out.DBClusterSnapshot.StorageEncrypted), aws.ToString(out.DBClusterSnapshot.KmsKeyId)
		pt.arn = p.ARN("rds", region, account, "cluster-snapshot:"+snap)
	default:
		return nil, simErr(400, "InvalidParameterValueException", "%q is not a DB instance or cluster", in.ResourceArn)
	}
	j := &simJob{id: id, kind: "backup", region: region, created: pt.created, dest: pt.arn, resourceARN: in.ResourceArn, vault: in.BackupVaultName}
	b.mu.Lock()
	b.jobs[id], b.points[pt.arn] = j, pt
	if in.IdempotencyToken != "" {
		b.tokens["backup/"+in.IdempotencyToken] = id
	}
	b.mu.Unlock()
	return map[string]any{"BackupJobId": id, "RecoveryPointArn": pt.arn, "CreationDate": epoch(j.created)}, nil
}

// snapshotState is the state of a point's snapshot as moto (and the
// clock) say: available, creating, or "" when it is gone.
func (b *backupSim) snapshotState(ctx context.Context, pt *simPoint) (string, error) {
	c := b.rds(pt.region)
	var status string
	if pt.cluster {
		out, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(pt.snapshot)})
		if notFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if len(out.DBClusterSnapshots) > 0 {
			status = aws.ToString(out.DBClusterSnapshots[0].Status)
		}
	} else {
		out, err := c.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(pt.snapshot)})
		if notFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if len(out.DBSnapshots) > 0 {
			status = aws.ToString(out.DBSnapshots[0].Status)
		}
	}
	return status, nil
}

func notFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "NotFound")
}

// jobState is AWS Backup's state of a job whose point is pt.
func (b *backupSim) jobState(ctx context.Context, j *simJob) (state, msg string, err error) {
	if j.failed != "" {
		return "FAILED", j.failed, nil
	}
	b.mu.Lock()
	pt := b.points[j.dest]
	b.mu.Unlock()
	if pt == nil {
		return "FAILED", "the recovery point was deleted", nil
	}
	st, err := b.snapshotState(ctx, pt)
	switch {
	case err != nil:
		return "", "", err
	case st == "available":
		return "COMPLETED", "", nil
	case st == "":
		return "FAILED", "snapshot " + pt.snapshot + " is gone", nil
	case st == "failed" || st == "error":
		return "FAILED", "snapshot " + pt.snapshot + " is " + st, nil
	}
	return "RUNNING", "", nil
}

func (b *backupSim) job(region, id, kind string) (*simJob, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j := b.jobs[id]
	// Jobs belong to the region that started them.
	if j == nil || j.kind != kind || j.region != region {
		return nil, simErr(400, "ResourceNotFoundException", "%s job %s not found in %s", kind, id, region)
	}
	return j, nil
}

func (b *backupSim) describeBackup(ctx context.Context, region, id string) (any, error) {
	j, err := b.job(region, id, "backup")
	if err != nil {
		return nil, err
	}
	st, msg, err := b.jobState(ctx, j)
	if err != nil {
		return nil, err
	}
	return map[string]any{"BackupJobId": j.id, "State": st, "StatusMessage": msg, "RecoveryPointArn": j.dest,
		"ResourceArn": j.resourceARN, "ResourceType": "RDS", "BackupVaultName": j.vault, "CreationDate": epoch(j.created)}, nil
}

func (b *backupSim) startCopy(ctx context.Context, region string, body []byte) (any, error) {
	var in struct {
		RecoveryPointArn, SourceBackupVaultName, DestinationBackupVaultArn, IamRoleArn, IdempotencyToken string
		Lifecycle                                                                                        *lifecycleIn
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, simErr(400, "InvalidParameterValueException", "%v", err)
	}
	b.mu.Lock()
	if id, ok := b.tokens["copy/"+in.IdempotencyToken]; ok && in.IdempotencyToken != "" {
		j := b.jobs[id]
		b.mu.Unlock()
		return map[string]any{"CopyJobId": j.id, "CreationDate": epoch(j.created)}, nil
	}
	src := b.points[in.RecoveryPointArn]
	b.mu.Unlock()
	if src == nil || src.region != region || src.vault != in.SourceBackupVaultName {
		return nil, simErr(400, "ResourceNotFoundException", "recovery point %s is not in vault %s of %s", in.RecoveryPointArn, in.SourceBackupVaultName, region)
	}
	part, svc, dst, account, res, ok := partition.ParseARN(in.DestinationBackupVaultArn)
	vaultName, isVault := strings.CutPrefix(res, "backup-vault:")
	if !ok || svc != "backup" || !isVault {
		return nil, simErr(400, "InvalidParameterValueException", "%q is not a backup vault ARN", in.DestinationBackupVaultArn)
	}
	dv, err := b.vault(ctx, dst, vaultName)
	if err != nil {
		return nil, err
	}
	// The copy is encrypted with the destination vault's key, as AWS
	// Backup does for RDS.
	key := aws.ToString(dv.EncryptionKeyArn)
	id := newJobID()
	snap := "awsbackup-copyjob-" + strings.ToLower(id)
	p, _ := partition.ByID(part)
	pt := &simPoint{region: dst, vault: vaultName, resourceARN: src.resourceARN, snapshot: snap, cluster: src.cluster, created: time.Now().UTC()}
	c := b.rds(dst)
	if src.cluster {
		in := &rds.CopyDBClusterSnapshotInput{SourceDBClusterSnapshotIdentifier: aws.String(src.arn), TargetDBClusterSnapshotIdentifier: aws.String(snap),
			CopyTags: aws.Bool(true), SourceRegion: aws.String(region)}
		if src.encrypted && key != "" {
			in.KmsKeyId = aws.String(key)
		}
		out, err := c.CopyDBClusterSnapshot(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("copy job of %s: %w", src.arn, err)
		}
		pt.encrypted, pt.keyARN = aws.ToBool(out.DBClusterSnapshot.StorageEncrypted), aws.ToString(out.DBClusterSnapshot.KmsKeyId)
		pt.arn = p.ARN("rds", dst, account, "cluster-snapshot:"+snap)
	} else {
		in := &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(src.arn), TargetDBSnapshotIdentifier: aws.String(snap),
			CopyTags: aws.Bool(true), SourceRegion: aws.String(region)}
		if src.encrypted && key != "" {
			in.KmsKeyId = aws.String(key)
		}
		out, err := c.CopyDBSnapshot(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("copy job of %s: %w", src.arn, err)
		}
		pt.encrypted, pt.keyARN = aws.ToBool(out.DBSnapshot.Encrypted), aws.ToString(out.DBSnapshot.KmsKeyId)
		pt.arn = p.ARN("rds", dst, account, "snapshot:"+snap)
	}
	j := &simJob{id: id, kind: "copy", region: region, created: pt.created, source: src.arn, dest: pt.arn,
		destVaultARN: in.DestinationBackupVaultArn, resourceARN: src.resourceARN, vault: in.SourceBackupVaultName}
	b.mu.Lock()
	b.jobs[id], b.points[pt.arn] = j, pt
	if in.IdempotencyToken != "" {
		b.tokens["copy/"+in.IdempotencyToken] = id
	}
	b.mu.Unlock()
	return map[string]any{"CopyJobId": id, "CreationDate": epoch(j.created)}, nil
}

func (b *backupSim) describeCopy(ctx context.Context, region, id string) (any, error) {
	j, err := b.job(region, id, "copy")
	if err != nil {
		return nil, err
	}
	st, msg, err := b.jobState(ctx, j)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CopyJob": map[string]any{"CopyJobId": j.id, "State": st, "StatusMessage": msg,
		"SourceRecoveryPointArn": j.source, "DestinationRecoveryPointArn": j.dest, "DestinationBackupVaultArn": j.destVaultARN,
		"SourceBackupVaultArn": "", "ResourceArn": j.resourceARN, "ResourceType": "RDS", "CreationDate": epoch(j.created)}}, nil
}

func (b *backupSim) list(ctx context.Context, region, vault, resourceARN string) (any, error) {
	if _, err := b.vault(ctx, region, vault); err != nil {
		return nil, err
	}
	b.mu.Lock()
	var pts []*simPoint
	for _, pt := range b.points {
		if pt.region == region && pt.vault == vault && (resourceARN == "" || pt.resourceARN == resourceARN) {
			pts = append(pts, pt)
		}
	}
	b.mu.Unlock()
	sort.Slice(pts, func(i, k int) bool { return pts[i].created.After(pts[k].created) })
	rps := []map[string]any{}
	for _, pt := range pts {
		st, err := b.snapshotState(ctx, pt)
		if err != nil {
			return nil, err
		}
		status := "PARTIAL"
		switch st {
		case "":
			// Deleted behind AWS Backup's back: AWS lists it until it
			// notices; the simulation forgets it.
			continue
		case "available":
			status = "COMPLETED"
		case "creating", "copying", "pending":
			status = "CREATING"
		}
		rp := map[string]any{"RecoveryPointArn": pt.arn, "ResourceArn": pt.resourceARN, "ResourceType": "RDS",
			"BackupVaultName": pt.vault, "Status": status, "CreationDate": epoch(pt.created), "IsEncrypted": pt.encrypted}
		if pt.keyARN != "" {
			rp["EncryptionKeyArn"] = pt.keyARN
		}
		rps = append(rps, rp)
	}
	return map[string]any{"RecoveryPoints": rps}, nil
}

func (b *backupSim) delete(ctx context.Context, region, vault, arn string) (any, error) {
	b.mu.Lock()
	pt := b.points[arn]
	b.mu.Unlock()
	if pt == nil || pt.region != region || pt.vault != vault {
		return nil, simErr(400, "ResourceNotFoundException", "recovery point %s is not in vault %s of %s", arn, vault, region)
	}
	v, err := b.vault(ctx, region, vault)
	if err != nil {
		return nil, err
	}
	// A locked vault keeps its points for the minimum retention, whoever
	// asks: the promise of Vault Lock.
	if aws.ToBool(v.Locked) && v.MinRetentionDays != nil && time.Since(pt.created) < time.Duration(*v.MinRetentionDays)*24*time.Hour {
		return nil, simErr(400, "InvalidRequestException", "vault %s is locked: recovery point %s is younger than its minimum retention of %d days", vault, arn, *v.MinRetentionDays)
	}
	c := b.rds(region)
	if pt.cluster {
		_, err = c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(pt.snapshot)})
	} else {
		_, err = c.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(pt.snapshot)})
	}
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("delete recovery point %s: %w", arn, err)
	}
	b.mu.Lock()
	delete(b.points, arn)
	b.mu.Unlock()
	return map[string]any{}, nil
}

// epoch is a timestamp as AWS's JSON protocols send it.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
