package s3sync

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Restore tiers S3 offers for Glacier Flexible Retrieval and Deep Archive.
// Bulk is the cheapest (hours; up to 48 for Deep Archive); Expedited is
// not offered for Deep Archive, whose objects are then restored Standard.
const (
	TierBulk      = string(types.TierBulk)
	TierStandard  = string(types.TierStandard)
	TierExpedited = string(types.TierExpedited)
)

// DefaultRestoreDays is how long S3 keeps a restored copy: long enough for
// a Bulk restore from Deep Archive (up to 48 hours) to finish and for the
// next scheduled or manual sync to copy it.
const DefaultRestoreDays = 7

// RestoreOptions make a sync restore archived source objects instead of
// only reporting them: one that is not restored gets a RestoreObject
// request, one whose restore is running is counted, and one already
// restored is copied. A later sync copies what this one got restored.
type RestoreOptions struct {
	// Days the restored copy is kept (default DefaultRestoreDays).
	Days int
	// Tier is TierBulk (default), TierStandard or TierExpedited.
	Tier string
}

// RestoreResult is what a sync's restores did.
type RestoreResult struct {
	Tier string `json:"tier"`
	Days int    `json:"days"`
	// Requested counts restores this sync asked S3 for.
	Requested int64 `json:"requested"`
	// InProgress counts restores asked for earlier that S3 has not finished.
	InProgress int64 `json:"in_progress"`
	// Copied counts restored objects this sync copied.
	Copied int64 `json:"copied"`
	// Failed counts objects whose HEAD or restore request failed; they stay
	// archived (reported, not failed) and the next sync tries again.
	Failed int64    `json:"failed"`
	Errors []string `json:"errors,omitempty"`
}

// Validate checks the options and fills in the defaults.
func (o *RestoreOptions) Validate() error {
	if o.Days == 0 {
		o.Days = DefaultRestoreDays
	}
	if o.Tier == "" {
		o.Tier = TierBulk
	}
	if o.Days < 1 {
		return fmt.Errorf("restore days must be 1 or more, not %d", o.Days)
	}
	switch o.Tier {
	case TierBulk, TierStandard, TierExpedited:
		return nil
	}
	return fmt.Errorf("restore tier %q: want %s, %s or %s", o.Tier, TierBulk, TierStandard, TierExpedited)
}

// restoreAPI is what restoring needs of the source bucket's client.
type restoreAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	RestoreObject(ctx context.Context, in *s3.RestoreObjectInput, optFns ...func(*s3.Options)) (*s3.RestoreObjectOutput, error)
}

// restorer restores the archived objects of one sync. A nil restorer (no
// RestoreOptions, or a dry run) restores nothing, and every method says
// so, so that the sync calls it unconditionally.
type restorer struct {
	api                 restoreAPI
	bucket, region      string
	opts                RestoreOptions
	log                 *slog.Logger
	requested, progress atomic.Int64
	copied, failed      atomic.Int64
	mu                  sync.Mutex
	errors              []string
}

// newRestorer returns the restorer of a sync, nil when it restores nothing.
func newRestorer(src objectAPI, p syncPlan, opts SyncOptions, log *slog.Logger) (*restorer, error) {
	if opts.Restore == nil || opts.DryRun {
		return nil, nil
	}
	ro := *opts.Restore
	if err := ro.Validate(); err != nil {
		return nil, err
	}
	api, ok := src.(restoreAPI)
	if !ok {
		return nil, fmt.Errorf("restore archived objects of %s (%s): the source client cannot RestoreObject", p.src, p.srcRegion)
	}
	return &restorer{api: api, bucket: p.src, region: p.srcRegion, opts: ro, log: log}, nil
}

// on reports whether archived objects go to the copy workers (to be
// restored or copied) rather than being only reported.
func (r *restorer) on() bool { return r != nil }

// ready reports whether o can be copied now. An object of an archived
// class is restored first: it is ready once S3 says its restore finished;
// otherwise its restore is requested (or found running) and it is not.
func (r *restorer) ready(ctx context.Context, o object) bool {
	if r == nil || !archived(o.StorageClass) {
		return true
	}
	return r.check(ctx, o)
}

// refused handles a copy S3 refused as archived (an Intelligent-Tiering
// archive tier, which no listing shows, or a restored copy that expired):
// it requests the restore when none is running.
func (r *restorer) refused(ctx context.Context, o object) {
	if r != nil {
		r.check(ctx, o)
	}
}

// done counts the copy of a restored object.
func (r *restorer) done(o object) {
	if r != nil && archived(o.StorageClass) {
		r.copied.Add(1)
	}
}

// check HEADs o and acts on its restore state: true when it is restored.
func (r *restorer) check(ctx context.Context, o object) bool {
	key := o.Key
	h, err := r.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		r.fail(fmt.Errorf("head s3://%s/%s (%s): %w", r.bucket, key, r.region, err))
		return false
	}
	switch restoreState(aws.ToString(h.Restore)) {
	case restoreDone:
		return true
	case restoreRunning:
		r.progress.Add(1)
		return false
	}
	tier := r.opts.Tier
	if tier == TierExpedited && types.ObjectStorageClass(o.StorageClass) == types.ObjectStorageClassDeepArchive {
		tier = TierStandard // S3 offers no Expedited retrieval from Deep Archive
	}
	in := &s3.RestoreObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key), RestoreRequest: &types.RestoreRequest{
		GlacierJobParameters: &types.GlacierJobParameters{Tier: types.Tier(tier)},
		Days:                 aws.Int32(int32(r.opts.Days)),
	}}
	if h.ArchiveStatus != "" {
		// An Intelligent-Tiering archive tier: S3 moves the object back to
		// its frequent tier, and refuses a number of days.
		in.RestoreRequest.Days = nil
	}
	_, err = r.api.RestoreObject(ctx, in)
	switch {
	case apiCode(err) == "RestoreAlreadyInProgress":
		r.progress.Add(1)
	case err != nil:
		r.fail(fmt.Errorf("restore s3://%s/%s (%s, %s tier): %w", r.bucket, key, r.region, tier, err))
	default:
		r.requested.Add(1)
	}
	return false
}

func (r *restorer) fail(err error) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.errors) < maxErrors {
		r.errors = append(r.errors, err.Error())
	}
	r.mu.Unlock()
}

// result is the restores' summary, nil when the sync restored nothing.
func (r *restorer) result() *RestoreResult {
	if r == nil {
		return nil
	}
	res := &RestoreResult{Tier: r.opts.Tier, Days: r.opts.Days, Requested: r.requested.Load(), InProgress: r.progress.Load(),
		Copied: r.copied.Load(), Failed: r.failed.Load(), Errors: r.errors}
	if res.Requested+res.InProgress+res.Failed > 0 {
		r.log.Info("archived objects are being restored: sync again once S3 has restored them", "bucket", r.bucket, "region", r.region,
			"requested", res.Requested, "in_progress", res.InProgress, "tier", res.Tier, "failed", res.Failed)
	}
	return res
}

// Restore states of an object by HeadObject's x-amz-restore header.
const (
	restoreNone    = iota // no restore asked for, or the restored copy expired
	restoreRunning        // ongoing-request="true"
	restoreDone           // ongoing-request="false", expiry-date="…"
)

func restoreState(header string) int {
	switch {
	case strings.Contains(header, `ongoing-request="true"`):
		return restoreRunning
	case strings.Contains(header, `ongoing-request="false"`):
		return restoreDone
	}
	return restoreNone
}
