package emulator_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbackup "github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestBackupJobsOnMotoSnapshots drives the simulated AWS Backup job API
// (moto has vaults but no jobs) as the aws-backup engine does: a backup
// job makes a real moto snapshot named as AWS names it, a copy job puts it
// in the DR vault's region, the DR vault lists it, a locked vault refuses
// to delete it early and an unlocked one deletes its snapshot.
func TestBackupJobsOnMotoSnapshots(t *testing.T) {
	p, env := world(t)
	p.SimulateBackupJobs()
	ctx := testCtx(t)
	const P, D, vault = "cn-northwest-1", "cn-north-1", "pilotlight-wp"
	makeDB(t, ctx, rds.NewFromConfig(env.For(P)), "wp-db", 20)
	bP, bD := awsbackup.NewFromConfig(env.For(P)), awsbackup.NewFromConfig(env.For(D))
	dbARN := "arn:aws-cn:rds:" + P + ":123456789012:db:wp-db"
	start := &awsbackup.StartBackupJobInput{BackupVaultName: aws.String(vault), ResourceArn: aws.String(dbARN),
		IamRoleArn:       aws.String("arn:aws-cn:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole"),
		IdempotencyToken: aws.String("t1"), RecoveryPointTags: map[string]string{"pilotlight:stack": "wp"}}
	if _, err := bP.StartBackupJob(ctx, start); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("backup job into a missing vault: err %v, want ResourceNotFoundException", err)
	}
	for _, c := range []*awsbackup.Client{bP, bD} {
		if _, err := c.CreateBackupVault(ctx, &awsbackup.CreateBackupVaultInput{BackupVaultName: aws.String(vault)}); err != nil {
			t.Fatal(err)
		}
	}
	job, err := bP.StartBackupJob(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	again, err := bP.StartBackupJob(ctx, start)
	if err != nil || aws.ToString(again.BackupJobId) != aws.ToString(job.BackupJobId) {
		t.Fatalf("retried start: %v %v, want the same job", again, err)
	}
	rp := aws.ToString(job.RecoveryPointArn)
	if !strings.HasPrefix(rp, "arn:aws-cn:rds:"+P+":123456789012:snapshot:awsbackup-job-") {
		t.Fatalf("recovery point %s: want the snapshot ARN AWS Backup gives (with a hyphen for its colon, which moto refuses)", rp)
	}
	bj, err := bP.DescribeBackupJob(ctx, &awsbackup.DescribeBackupJobInput{BackupJobId: job.BackupJobId})
	if err != nil || bj.State != backuptypes.BackupJobStateCompleted {
		t.Fatalf("backup job: %+v %v", bj, err)
	}
	snap := strings.SplitN(rp, ":snapshot:", 2)[1]
	if _, err := rds.NewFromConfig(env.For(P)).DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)}); err != nil {
		t.Fatalf("the job's snapshot %s in moto: %v", snap, err)
	}
	cj, err := bP.StartCopyJob(ctx, &awsbackup.StartCopyJobInput{RecoveryPointArn: aws.String(rp), SourceBackupVaultName: aws.String(vault),
		DestinationBackupVaultArn: aws.String("arn:aws-cn:backup:" + D + ":123456789012:backup-vault:" + vault),
		IamRoleArn:                start.IamRoleArn, IdempotencyToken: aws.String("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bD.DescribeCopyJob(ctx, &awsbackup.DescribeCopyJobInput{CopyJobId: cj.CopyJobId}); err == nil {
		t.Fatal("a copy job is described in the DR region: it belongs to the region that started it")
	}
	cd, err := bP.DescribeCopyJob(ctx, &awsbackup.DescribeCopyJobInput{CopyJobId: cj.CopyJobId})
	if err != nil || cd.CopyJob.State != backuptypes.CopyJobStateCompleted {
		t.Fatalf("copy job: %+v %v", cd, err)
	}
	drRP := aws.ToString(cd.CopyJob.DestinationRecoveryPointArn)
	if !strings.HasPrefix(drRP, "arn:aws-cn:rds:"+D+":123456789012:snapshot:awsbackup-copyjob-") {
		t.Fatalf("DR recovery point %s", drRP)
	}
	list, err := bD.ListRecoveryPointsByBackupVault(ctx, &awsbackup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(vault), ByResourceArn: aws.String(dbARN)})
	if err != nil || len(list.RecoveryPoints) != 1 || aws.ToString(list.RecoveryPoints[0].RecoveryPointArn) != drRP ||
		list.RecoveryPoints[0].Status != backuptypes.RecoveryPointStatusCompleted {
		t.Fatalf("DR vault lists %+v (%v), want %s completed", list, err, drRP)
	}
	if _, err := bD.PutBackupVaultLockConfiguration(ctx, &awsbackup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String(vault), MinRetentionDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bD.DeleteRecoveryPoint(ctx, &awsbackup.DeleteRecoveryPointInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(drRP)}); err == nil {
		t.Fatal("a locked vault deleted a day-old recovery point")
	}
	if _, err := bP.DeleteRecoveryPoint(ctx, &awsbackup.DeleteRecoveryPointInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(rp)}); err != nil {
		t.Fatal(err)
	}
	if _, err := rds.NewFromConfig(env.For(P)).DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)}); err == nil {
		t.Fatalf("deleting the recovery point left snapshot %s", snap)
	}
}
