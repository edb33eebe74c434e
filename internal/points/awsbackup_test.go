package points

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/runbook"
)

// fakeBackup simulates AWS Backup, which moto does not implement (it has
// vaults and plans but no backup or copy jobs), honestly on top of moto's
// real RDS: a backup job is a real DB snapshot in the primary region and
// a copy job a real CopyDBSnapshot to the DR region, as AWS Backup does
// for RDS, so the recovery point's ARN is a snapshot moto can restore.
// Jobs run for `runs` describes. Idempotency tokens are honoured as AWS
// documents. It calls moto directly, not through the test's proxy, so the
// proxy counts only what the product calls itself.
type fakeBackup struct {
	mu      sync.Mutex
	t       *testing.T
	rds     func(region string) *rds.Client
	vault   string
	runs    int
	n       int
	tokens  map[string]string
	jobs    map[string]*fakeJob // backup and copy jobs by id
	points  map[string]map[string]*fakeRP
	started map[string]int  // StartBackupJob/StartCopyJob that made a job
	fail    map[string]bool // backup job ids that end FAILED
}

type fakeJob struct {
	left     int
	rp, dest string
	copy     bool
}

type fakeRP struct {
	resource string
	created  time.Time
	done     bool
}

func newFakeBackup(t *testing.T, w *world, stack string, runs int) *fakeBackup {
	return &fakeBackup{t: t, rds: w.rds, vault: VaultName(stack), runs: runs, tokens: map[string]string{},
		jobs: map[string]*fakeJob{}, points: map[string]map[string]*fakeRP{}, started: map[string]int{}}
}

// in is the fake's client for one region.
func (f *fakeBackup) in(region string) backupAPI { return fakeBackupRegion{f, region} }

type fakeBackupRegion struct {
	f      *fakeBackup
	region string
}

func notFound(msg string) error {
	return &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: msg}
}

func (r fakeBackupRegion) StartBackupJob(ctx context.Context, in *awsbackup.StartBackupJobInput, _ ...func(*awsbackup.Options)) (*awsbackup.StartBackupJobOutput, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.BackupVaultName) != f.vault {
		return nil, notFound("vault " + aws.ToString(in.BackupVaultName))
	}
	if id, ok := f.tokens[aws.ToString(in.IdempotencyToken)]; ok {
		return &awsbackup.StartBackupJobOutput{BackupJobId: aws.String(id), RecoveryPointArn: aws.String(f.jobs[id].rp)}, nil
	}
	_, _, _, _, res, ok := partition.ParseARN(aws.ToString(in.ResourceArn))
	if !ok || len(res) < 4 || res[:3] != "db:" {
		return nil, fmt.Errorf("fake backup: resource %s is not a DB instance", aws.ToString(in.ResourceArn))
	}
	f.n++
	snap := fmt.Sprintf("awsbackup-job-%d", f.n)
	out, err := f.rds(r.region).CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(res[3:]), DBSnapshotIdentifier: aws.String(snap)})
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("backup-job-%d", f.n)
	rp := aws.ToString(out.DBSnapshot.DBSnapshotArn)
	f.tokens[aws.ToString(in.IdempotencyToken)] = id
	f.jobs[id] = &fakeJob{left: f.runs, rp: rp}
	f.vaultIn(r.region)[rp] = &fakeRP{resource: aws.ToString(in.ResourceArn), created: time.Now()}
	f.started["backup"]++
	return &awsbackup.StartBackupJobOutput{BackupJobId: aws.String(id), RecoveryPointArn: aws.String(rp)}, nil
}

func (f *fakeBackup) vaultIn(region string) map[string]*fakeRP {
	if f.points[region] == nil {
		f.points[region] = map[string]*fakeRP{}
	}
	return f.points[region]
}

// tick runs a job one describe further and reports whether it is done.
func (f *fakeBackup) tick(id, region string) (*fakeJob, bool, error) {
	j := f.jobs[id]
	if j == nil {
		return nil, false, notFound("job " + id)
	}
	if j.left > 0 {
		j.left--
		return j, false, nil
	}
	rp := j.rp
	if j.copy {
		rp = j.dest
	}
	for _, v := range f.points {
		if p := v[rp]; p != nil {
			p.done = true
		}
	}
	return j, true, nil
}

func (r fakeBackupRegion) DescribeBackupJob(ctx context.Context, in *awsbackup.DescribeBackupJobInput, _ ...func(*awsbackup.Options)) (*awsbackup.DescribeBackupJobOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	j, done, err := r.f.tick(aws.ToString(in.BackupJobId), r.region)
	if err != nil {
		return nil, err
	}
	st := backuptypes.BackupJobStateRunning
	switch {
	case done && r.f.fail[aws.ToString(in.BackupJobId)]:
		st = backuptypes.BackupJobStateFailed
	case done:
		st = backuptypes.BackupJobStateCompleted
	}
	return &awsbackup.DescribeBackupJobOutput{BackupJobId: in.BackupJobId, State: st, RecoveryPointArn: aws.String(j.rp)}, nil
}

func (r fakeBackupRegion) StartCopyJob(ctx context.Context, in *awsbackup.StartCopyJobInput, _ ...func(*awsbackup.Options)) (*awsbackup.StartCopyJobOutput, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.tokens[aws.ToString(in.IdempotencyToken)]; ok {
		return &awsbackup.StartCopyJobOutput{CopyJobId: aws.String(id)}, nil
	}
	_, _, drRegion, _, vaultRes, ok := partition.ParseARN(aws.ToString(in.DestinationBackupVaultArn))
	if !ok || vaultRes != "backup-vault:"+f.vault {
		return nil, notFound("destination vault " + aws.ToString(in.DestinationBackupVaultArn))
	}
	src := f.vaultIn(r.region)[aws.ToString(in.RecoveryPointArn)]
	if src == nil || !src.done {
		return nil, fmt.Errorf("fake backup: recovery point %s is not completed in %s", aws.ToString(in.RecoveryPointArn), r.region)
	}
	f.n++
	out, err := f.rds(drRegion).CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{
		SourceDBSnapshotIdentifier: in.RecoveryPointArn, TargetDBSnapshotIdentifier: aws.String(fmt.Sprintf("awsbackup-copyjob-%d", f.n)),
		SourceRegion: aws.String(r.region),
	})
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("copy-job-%d", f.n)
	dest := aws.ToString(out.DBSnapshot.DBSnapshotArn)
	f.tokens[aws.ToString(in.IdempotencyToken)] = id
	f.jobs[id] = &fakeJob{left: f.runs, rp: aws.ToString(in.RecoveryPointArn), dest: dest, copy: true}
	f.vaultIn(drRegion)[dest] = &fakeRP{resource: src.resource, created: src.created}
	f.started["copy"]++
	return &awsbackup.StartCopyJobOutput{CopyJobId: aws.String(id)}, nil
}

func (r fakeBackupRegion) DescribeCopyJob(ctx context.Context, in *awsbackup.DescribeCopyJobInput, _ ...func(*awsbackup.Options)) (*awsbackup.DescribeCopyJobOutput, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	j, done, err := r.f.tick(aws.ToString(in.CopyJobId), r.region)
	if err != nil {
		return nil, err
	}
	st := backuptypes.CopyJobStateRunning
	if done {
		st = backuptypes.CopyJobStateCompleted
	}
	return &awsbackup.DescribeCopyJobOutput{CopyJob: &backuptypes.CopyJob{CopyJobId: in.CopyJobId, State: st,
		SourceRecoveryPointArn: aws.String(j.rp), DestinationRecoveryPointArn: aws.String(j.dest)}}, nil
}

func (r fakeBackupRegion) ListRecoveryPointsByBackupVault(ctx context.Context, in *awsbackup.ListRecoveryPointsByBackupVaultInput, _ ...func(*awsbackup.Options)) (*awsbackup.ListRecoveryPointsByBackupVaultOutput, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.BackupVaultName) != f.vault {
		return nil, notFound("vault " + aws.ToString(in.BackupVaultName))
	}
	out := &awsbackup.ListRecoveryPointsByBackupVaultOutput{}
	for arn, p := range f.points[r.region] {
		if in.ByResourceArn != nil && *in.ByResourceArn != p.resource {
			continue
		}
		st := backuptypes.RecoveryPointStatusCreating
		if p.done {
			st = backuptypes.RecoveryPointStatusCompleted
		}
		out.RecoveryPoints = append(out.RecoveryPoints, backuptypes.RecoveryPointByBackupVault{
			RecoveryPointArn: aws.String(arn), ResourceArn: aws.String(p.resource), CreationDate: aws.Time(p.created), Status: st})
	}
	return out, nil
}

func (r fakeBackupRegion) DeleteRecoveryPoint(ctx context.Context, in *awsbackup.DeleteRecoveryPointInput, _ ...func(*awsbackup.Options)) (*awsbackup.DeleteRecoveryPointOutput, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(in.RecoveryPointArn)
	if f.points[r.region][arn] == nil {
		return nil, notFound("recovery point " + arn)
	}
	id, _ := RecoveryPointSnapshot(arn)
	if _, err := f.rds(r.region).DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(id)}); err != nil {
		return nil, err
	}
	delete(f.points[r.region], arn)
	return &awsbackup.DeleteRecoveryPointOutput{}, nil
}

// fakeSourceRegions simulates RDS DescribeSourceRegions, which moto lacks:
// the DR region lists the primary or not, as the test says.
type fakeSourceRegions struct {
	mu     sync.Mutex
	listed []string
	calls  int
}

func (f *fakeSourceRegions) DescribeSourceRegions(ctx context.Context, in *rds.DescribeSourceRegionsInput, _ ...func(*rds.Options)) (*rds.DescribeSourceRegionsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	out := &rds.DescribeSourceRegionsOutput{}
	for _, r := range f.listed {
		if in.RegionName == nil || *in.RegionName == r {
			out.SourceRegions = append(out.SourceRegions, rdstypes.SourceRegion{RegionName: aws.String(r), Status: aws.String("available")})
		}
	}
	return out, nil
}

func engineClients(w *world, fb *fakeBackup, sr *fakeSourceRegions) *clients {
	c := newClients(w.env)
	c.waits = waits{MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxCreate: time.Minute, MaxCopy: time.Minute}
	c.newBackup = fb.in
	c.newSourceRegions = func(string) sourceRegionsAPI { return sr }
	return c
}

// Ningxia to Beijing with RDS saying it cannot copy snapshots between
// them: auto picks aws-backup, remembers why, protects through a backup job
// and a copy job, and the DR recovery point names a snapshot that restores.
func TestAutoPicksAWSBackupWhereRDSCannotCopyAndTheDRPointRestores(t *testing.T) {
	t.Parallel()
	// Both China directions: Ningxia to Beijing, and back.
	for _, pair := range [][2]string{{"cn-northwest-1", "cn-north-1"}, {"cn-north-1", "cn-northwest-1"}} {
		t.Run(pair[0]+"->"+pair[1], func(t *testing.T) {
			t.Parallel()
			autoPicksAWSBackup(t, pair[0], pair[1])
		})
	}
}

func autoPicksAWSBackup(t *testing.T, primary, dr string) {
	w := newWorld(t, primary, dr)
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - { id: db1, engine: auto, every: 2h, keep: { primary: 1, dr: 1 } }\n")
	store := openStore(t, t.TempDir())
	fb := newFakeBackup(t, w, "wp", 2)
	sr := &fakeSourceRegions{} // lists nothing: "not supported"
	cycle := func(now time.Time, tick string) *BackupReport {
		t.Helper()
		rep, err := stepUntilDone(w.ctx, engineClients(w, fb, sr), cfg, BackupOptions{Now: func() time.Time { return now }, Store: store, Tick: tick}, nil)
		if err != nil {
			t.Fatalf("cycle %s: %v", tick, err)
		}
		return rep
	}
	rep := cycle(t0, "t0")
	r := rep.Results[0]
	if r.Engine != EngineAWSBackup || r.Phase != PhaseDone || r.Copied == "" {
		t.Fatalf("result %+v", r)
	}
	if n := w.calls(w.D, "CopyDBSnapshot") + w.calls(w.P, "CreateDBSnapshot"); n != 0 {
		t.Fatalf("the aws-backup engine called RDS snapshot APIs itself %d times", n)
	}
	if fb.started["backup"] != 1 || fb.started["copy"] != 1 {
		t.Fatalf("jobs started %v", fb.started)
	}
	data, err := store.Get(w.ctx, sourceRegionsKey(w.D, w.P))
	var m sourceRegionsMemory
	if err != nil || json.Unmarshal(data, &m) != nil || m.Listed {
		t.Fatalf("remembered answer %s %v", data, err)
	}
	ch, err := engineClients(w, fb, sr).resolveEngine(w.ctx, cfg, store, mustTarget(t, cfg, "db1"))
	if err != nil || ch.Engine != EngineAWSBackup || sr.calls != 1 {
		t.Fatalf("second resolve %+v %v, DescribeSourceRegions called %d times", ch, err, sr.calls)
	}
	t.Logf("engine %s: %s", ch.Engine, ch.Why)

	p, err := newestBackupDR(w.ctx, engineClients(w, fb, sr), cfg, "db1")
	if err != nil || p.ARN != r.Copied || p.Region != w.D {
		t.Fatalf("newest DR point %+v %v (copied %s)", p, err, r.Copied)
	}
	// Failover's NewestDR finds it too (engine auto: the newer of both).
	if q, err := newestDR(w.ctx, engineClients(w, fb, sr), cfg, "db1"); err != nil || q.ID != p.ID {
		t.Fatalf("NewestDR %+v %v, want %s", q, err, p.ID)
	}
	// Failover restores from the snapshot the recovery point names.
	if _, err := w.rds(w.D).RestoreDBInstanceFromDBSnapshot(w.ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String("db1-dr"), DBSnapshotIdentifier: aws.String(p.ID)}); err != nil {
		t.Fatalf("restore from %s: %v", p.ID, err)
	}

	// A retried tick joins its finished job; the next tick, during a
	// failover from the current DR point, keeps that point (keep dr: 1).
	cycle(t0, "t0")
	if fb.started["backup"] != 1 {
		t.Fatalf("a retried tick started another backup job: %v", fb.started)
	}
	putRun(t, store, "failover-x", "failover", runbook.PhaseRunning, runbook.Outputs{"db_point": p.ID}, nil)
	cycle(t0.Add(2*time.Hour), "t1")
	if n := len(fb.points[w.D]); n != 2 {
		t.Fatalf("DR vault has %d points, want the new one and the one in use", n)
	}
	putRun(t, store, "failover-x", "failover", runbook.PhaseDone, runbook.Outputs{"db_point": p.ID}, nil)
	cycle(t0.Add(4*time.Hour), "t2")
	if n, m := len(fb.points[w.D]), len(fb.points[w.P]); n != 1 || m != 1 {
		t.Fatalf("after the failover: DR vault %d points, primary %d; want 1 and 1", n, m)
	}
}

// With RDS listing the primary as a source, auto copies snapshots.
func TestAutoPicksSnapshotCopyWhereRDSListsTheSource(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - { id: db1, engine: auto }\n")
	store := openStore(t, t.TempDir())
	fb := newFakeBackup(t, w, "wp", 0)
	sr := &fakeSourceRegions{listed: []string{w.P}}
	rep, err := stepUntilDone(w.ctx, engineClients(w, fb, sr), cfg, BackupOptions{Now: func() time.Time { return t0 }, Store: store, Tick: "t0"}, nil)
	if err != nil || rep.Results[0].Engine != EngineSnapshotCopy || rep.Results[0].Phase != PhaseDone {
		t.Fatalf("%+v %v", rep, err)
	}
	if w.calls(w.D, "CopyDBSnapshot") != 1 || len(fb.started) != 0 {
		t.Fatalf("CopyDBSnapshot %d, backup jobs %v", w.calls(w.D, "CopyDBSnapshot"), fb.started)
	}
}

func TestRecoveryPointSnapshot(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws-cn:rds:cn-north-1:123456789012:snapshot:awsbackup:copyjob-1a2b":         "awsbackup:copyjob-1a2b",
		"arn:aws:rds:us-west-2:123456789012:cluster-snapshot:awsbackup:job-9":            "awsbackup:job-9",
		"arn:aws:ec2:us-west-2::image/ami-0123":                                          "",
		"arn:aws:backup:us-west-2:123456789012:recovery-point:0a1b2c3d-aaaa-bbbb-cccc-d": "",
	} {
		got, ok := RecoveryPointSnapshot(arn)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", arn, got, ok, want)
		}
	}
}

// A backup job that fails fails its step; the retry of the tick starts a
// new job (a new idempotency token) instead of joining the failed one.
func TestFailedBackupJobIsRetriedByTheNextStepOfItsTick(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cn-northwest-1", "cn-north-1")
	w.createDB("db1", false)
	cfg := w.config("protect:\n  databases:\n    - { id: db1, engine: aws-backup }\n")
	store := openStore(t, t.TempDir())
	fb := newFakeBackup(t, w, "wp", 0)
	fb.fail = map[string]bool{"backup-job-1": true}
	opts := BackupOptions{Now: func() time.Time { return t0 }, Store: store, Tick: "t0"}
	c := engineClients(w, fb, &fakeSourceRegions{})
	if rep, err := step(w.ctx, c, cfg, opts); err != nil || rep.Results[0].Phase != PhaseSnapshotting {
		t.Fatalf("first step: %+v %v", rep, err)
	}
	rep, err := step(w.ctx, c, cfg, opts)
	if err == nil || rep.Results[0].Phase != PhaseFailed || rep.Results[0].InProgress {
		t.Fatalf("step of the failed job: %+v %v", rep, err)
	}
	rep, err = stepUntilDone(w.ctx, c, cfg, opts, nil)
	if err != nil || rep.Results[0].Phase != PhaseDone || fb.started["backup"] != 2 || fb.started["copy"] != 1 {
		t.Fatalf("retry: %+v %v, jobs %v", rep, err, fb.started)
	}
}
