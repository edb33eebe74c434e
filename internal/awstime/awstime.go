// Package awstime is the one table of how long AWS takes: each
// asynchronous resource's time to become usable, in AWS time, with the
// source of every figure. The emulator's clock (internal/emulator) makes
// the test world take these times, and recovery's prediction
// (internal/recovery, predict.go) falls back to them when no drill has
// measured the user's own account. It holds figures only: no AWS calls, no
// clock, and nothing from testing, since the shipped binary links it.
package awstime

import "time"

// ALB target group health check defaults (ELB User Guide, Health checks
// for Application Load Balancer target groups): a target turns healthy
// after ALBHealthyThreshold checks, one every ALBHealthCheckInterval.
const (
	ALBHealthCheckInterval = 30 * time.Second
	ALBHealthyThreshold    = 5
)

// Durations is the one table of how long AWS takes, in AWS time (the
// emulator's clock scales it). Each entry says where the figure comes from;
// "estimate" means no published figure was found and the number is a
// judgement, to be replaced when measured. docs/aws-time.md carries the
// same table.
type Durations struct {
	// DBSnapshot is a manual RDS snapshot of an instance: Base plus PerGB of
	// allocated storage (the first snapshot is a full copy of the volume).
	// Estimate: AWS documents only that the first snapshot is full and later
	// ones incremental; ~5 min for a 20 GB gp2 volume is the common report.
	DBSnapshot Sized
	// DBSnapshotCopy is a cross-region CopyDBSnapshot (in-region copies of an
	// unencrypted snapshot are near instant and use InRegionCopy). AWS: "a
	// cross-Region snapshot copy can take many hours depending on size"
	// (RDS User Guide, Copying a DB snapshot); the rate is an estimate
	// (~25 MB/s, a 500 GB copy in about 5.5 h).
	DBSnapshotCopy Sized
	// InRegionCopy is a copy inside one region. Estimate.
	InRegionCopy Sized
	// DBRestore is RestoreDBInstanceFromDBSnapshot until `available`; the
	// last BackingUp share of it is `backing-up` (the first automated
	// backup). Estimate from published measurements of 10–20 min for small
	// instances; data is loaded lazily from S3, so size adds little.
	DBRestore Sized
	// BackingUp is the share of DBRestore spent `backing-up`. Estimate.
	BackingUp float64
	// DBInstanceCreate is CreateDBInstance / read replica / point-in-time
	// restore. Estimate (AWS: "can take several minutes"; ~10 min typical).
	DBInstanceCreate Sized
	// ClusterSnapshot is an Aurora cluster snapshot. Estimate: Aurora
	// snapshots are storage-level and take minutes whatever the size.
	ClusterSnapshot Sized
	// ClusterSnapshotCopy is a cross-region CopyDBClusterSnapshot. Estimate,
	// same rate as DBSnapshotCopy.
	ClusterSnapshotCopy Sized
	// ClusterRestore is RestoreDBClusterFromSnapshot until the cluster is
	// `available`. Estimate (published reports: 5–15 min, instances extra).
	ClusterRestore Sized
	// Image is CreateImage until `available` for moto's 15 GiB root volume.
	// Estimate (EBS snapshot of the root volume; reports of 5–15 min).
	Image Sized
	// ImageCopy is a cross-region CopyImage. Estimate (~15 min for a small
	// AMI in published reports; copies of larger volumes take longer).
	ImageCopy Sized
	// ImageCopyInvisible is how long DescribeImages does not know an AMI
	// that CopyImage just returned (EC2's eventual consistency: "it might
	// take a few minutes for changes to propagate", EC2 API Reference,
	// Eventual consistency). Estimate within that range.
	ImageCopyInvisible time.Duration
	// InstanceBoot is `pending` → `running` (and an Auto Scaling instance's
	// `Pending` → `InService`). Estimate: ~30–60 s for Amazon Linux.
	InstanceBoot time.Duration
	// NatGateway is `pending` → `available`. Published measurements: 1–3 min.
	NatGateway time.Duration
	// LoadBalancer is an ALB's `provisioning` → `active`. Estimate (reports
	// of 2–5 min).
	LoadBalancer time.Duration
	// CacheCluster is ElastiCache `creating` → `available` (replication
	// groups and clusters). Estimate (reports of 5–15 min for Redis).
	CacheCluster time.Duration
	// DBInstanceDelete is `deleting` until the instance is gone (moto drops
	// it at once). Estimate (reports of 5–10 min without final snapshot).
	DBInstanceDelete time.Duration
	// NatGatewayDelete is `deleting` until `deleted`; until then its subnet
	// and Elastic IP are still in use. Published measurement: ~1 min
	// (Terraform "Destruction complete after 1m1s", terraform-provider-aws
	// #49299).
	NatGatewayDelete time.Duration
	// Route53Change is ChangeResourceRecordSets until GetChange says
	// INSYNC. AWS: changes "generally propagate to all Route 53 name
	// servers within 60 seconds" (Route 53 API Reference, GetChange). The
	// emulator's clock does not apply it: moto's changes are INSYNC at once.
	Route53Change time.Duration
	// IAMPropagation is how long EC2 and Auto Scaling refuse an instance
	// profile (or one whose role was just added) after IAM created it. AWS:
	// "it may take several seconds for the permissions to propagate" (EC2 User
	// Guide, IAM roles); Terraform measured "typically 5–10 seconds".
	IAMPropagation time.Duration
	// TerraformBasic is `terraform apply` of the seed's basic/ (VPC,
	// subnets, internet gateway, route tables, security groups, DB and
	// cache subnet groups): nothing in it is asynchronous. Estimate (about
	// 25 resources at Terraform's default parallelism of 10).
	TerraformBasic time.Duration
	// ManualDNS is an operator switching the domain's record by hand at its
	// DNS provider, as the seed leaves it. Estimate (log in, find the
	// record, edit, save); resolvers' TTL comes on top and is not counted.
	ManualDNS time.Duration
}

// Sized is a duration that grows with the data: Base + PerGB × GB.
type Sized struct {
	Base  time.Duration
	PerGB time.Duration
}

// For returns the duration for gb gigabytes.
func (s Sized) For(gb int) time.Duration { return s.Base + time.Duration(gb)*s.PerGB }

// Default is the table: the emulator's clock runs on it unless a test
// gives its own, and recovery's prediction falls back to it without a drill.
func Default() Durations {
	return Durations{
		DBSnapshot:          Sized{Base: 2 * time.Minute, PerGB: 9 * time.Second},
		DBSnapshotCopy:      Sized{Base: 5 * time.Minute, PerGB: 40 * time.Second},
		InRegionCopy:        Sized{Base: time.Minute, PerGB: time.Second},
		DBRestore:           Sized{Base: 12 * time.Minute, PerGB: 2 * time.Second},
		BackingUp:           0.2,
		DBInstanceCreate:    Sized{Base: 10 * time.Minute},
		ClusterSnapshot:     Sized{Base: 2 * time.Minute, PerGB: time.Second},
		ClusterSnapshotCopy: Sized{Base: 5 * time.Minute, PerGB: 40 * time.Second},
		ClusterRestore:      Sized{Base: 8 * time.Minute, PerGB: time.Second},
		Image:               Sized{Base: 5 * time.Minute, PerGB: 20 * time.Second},
		ImageCopy:           Sized{Base: 8 * time.Minute, PerGB: 30 * time.Second},
		ImageCopyInvisible:  30 * time.Second,
		InstanceBoot:        45 * time.Second,
		NatGateway:          2 * time.Minute,
		LoadBalancer:        3 * time.Minute,
		CacheCluster:        10 * time.Minute,
		DBInstanceDelete:    6 * time.Minute,
		NatGatewayDelete:    time.Minute,
		Route53Change:       time.Minute,
		IAMPropagation:      10 * time.Second,
		TerraformBasic:      time.Minute,
		ManualDNS:           5 * time.Minute,
	}
}
