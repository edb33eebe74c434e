package points

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/state"
)

// AWS's limits on copies in progress to one destination region per account
// (see copyQuotas for the sources). Step counts against them from AWS.
const (
	rdsCopyQuota     = 20
	clusterCopyQuota = 5
	ebsCopyQuota     = 20
)

// errNoSlot means AWS's copy quota for the DR region is full right now.
var errNoSlot = errors.New("no copy slot free in the DR region")

// slotLocks serialise count-then-copy per destination region and kind
// within a process; the store lock does it across processes.
var slotLocks sync.Map // region/kind -> *sync.Mutex

// quotaLockWait bounds how long a step waits for another process's
// count-then-copy (a few API calls) before leaving the copy for its next
// step.
const quotaLockWait = 5 * time.Second

// withCopySlot runs start, which starts one copy of weight slots (an
// image's snapshot count), only if the copies in progress in the DR region,
// counted from AWS, leave room; else it returns errNoSlot. Counting and
// starting happen under one lock (a process mutex and, with a store, a
// store lock) so two steps cannot both see the last free slot. Copies
// started elsewhere, by an earlier invocation or by hand, are counted too.
func (c *clients) withCopySlot(ctx context.Context, store state.Store, s scope, weight int, start func() error) error {
	region, kind := s.cfg.DR.Region, s.t.kind
	m, _ := slotLocks.LoadOrStore(region+"/"+string(kind), &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	if store != nil {
		release, err := leaseWithin(ctx, store, "copy-quota/"+region+"/"+string(kind), quotaLockWait)
		if errors.Is(err, errBusy) {
			return errNoSlot
		}
		if err != nil {
			return fmt.Errorf("copy quota lock for %s in %s: %w", kind, region, err)
		}
		defer release(context.WithoutCancel(ctx))
	}
	n, limit, err := c.copiesInFlight(ctx, region, kind)
	if err != nil {
		return err
	}
	// An image with more snapshots than the quota may start alone.
	if n > 0 && n+weight > limit {
		return errNoSlot
	}
	return start()
}

// leaseWithin retries lease with back-off for up to wait.
func leaseWithin(ctx context.Context, store state.Store, key string, wait time.Duration) (func(context.Context) error, error) {
	deadline := time.Now().Add(wait)
	delay := 20 * time.Millisecond
	for {
		release, err := lease(ctx, store, key, "copy-quota")
		if !errors.Is(err, errBusy) || time.Now().Add(delay).After(deadline) {
			return release, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// copiesInFlight counts the copies in progress to region that AWS's quota
// for kind counts, and returns the quota. Snapshots being created in the
// region itself are not copies; RDS says so with SourceRegion, and for
// EBS every pending snapshot is counted, which can only under-use the
// quota.
func (c *clients) copiesInFlight(ctx context.Context, region string, kind Kind) (n, limit int, err error) {
	switch kind {
	case KindRDSInstance:
		pg := rds.NewDescribeDBSnapshotsPaginator(c.rds(region), &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("count DB snapshot copies in progress: %s: %w", region, err)
			}
			for _, sn := range out.DBSnapshots {
				if copyRunning(aws.ToString(sn.Status), aws.ToString(sn.SourceRegion)) {
					n++
				}
			}
		}
		return n, rdsCopyQuota, nil
	case KindRDSCluster:
		pg := rds.NewDescribeDBClusterSnapshotsPaginator(c.rds(region), &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("count DB cluster snapshot copies in progress: %s: %w", region, err)
			}
			for _, sn := range out.DBClusterSnapshots {
				// Cluster snapshots carry no SourceRegion: count every
				// unfinished one.
				if copyRunning(aws.ToString(sn.Status), "?") {
					n++
				}
			}
		}
		return n, clusterCopyQuota, nil
	}
	pg := ec2.NewDescribeSnapshotsPaginator(c.ec2(region), &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters:  []ec2types.Filter{{Name: aws.String("status"), Values: []string{string(ec2types.SnapshotStatePending)}}},
	})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("count EBS snapshot copies in progress: %s: %w", region, err)
		}
		for _, sn := range out.Snapshots {
			if sn.State == ec2types.SnapshotStatePending {
				n++
			}
		}
	}
	return n, ebsCopyQuota, nil
}

// copyRunning reports whether an RDS snapshot of status is a copy still in
// progress: RDS shows a copy as pending or copying; creating is a snapshot
// taken in the region, unless it names a source region.
func copyRunning(status, sourceRegion string) bool {
	switch status {
	case "pending", "copying":
		return true
	case "creating":
		return sourceRegion != ""
	}
	return false
}
