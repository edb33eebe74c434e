// Package s3sync owns S3 media replication to the DR region: setting up
// Cross-Region Replication (versioning, the replication role, the rule),
// back-filling what CRR does not copy with server-side copies, and
// verifying that both buckets hold the same objects.
//
// Listings of both buckets are streamed page by page and merged in key
// order, so memory stays flat whatever the bucket's size. Object bytes
// never pass through this process: every copy is CopyObject or
// UploadPartCopy. The package builds its own S3, IAM and KMS clients from an
// awsenv.Env and holds no CLI logic.
package s3sync
