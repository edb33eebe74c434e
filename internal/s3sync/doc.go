// Package s3sync owns S3 media replication to the DR region: setting up
// Cross-Region Replication (versioning, the replication role, the rule),
// back-filling what CRR does not copy with server-side copies or with an S3
// Batch Replication job, and verifying that both buckets hold the same
// objects.
//
// Listings of both buckets are streamed page by page and merged in key
// order, so memory stays flat whatever the bucket's size. Object bytes
// never pass through this process: every copy is CopyObject or
// UploadPartCopy. Copies in flight adapt to what S3 and the link take, and
// throttling (503 SlowDown) is retried per prefix rather than from the
// SDK's shared retry quota, so a storm slows a sync without failing it. A
// verify given a checkpoint store stops before its deadline and the next
// one continues. The package builds its own S3, S3 Control, IAM and KMS
// clients from an awsenv.Env and holds no CLI logic.
package s3sync
