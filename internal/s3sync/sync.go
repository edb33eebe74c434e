package s3sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// queueAhead is how many small copies may wait for a worker (about 1 MB):
// a constant, so memory does not grow with the bucket.
const queueAhead = 8192

// bigObject is the size from which a copy takes the large-object lane:
// at S3's internal copy rate such a copy lasts far longer than a round trip.
const bigObject = 16 << 20

// maxErrors bounds the error messages kept in a result; the count is exact.
const maxErrors = 100

// SyncOptions tune one back-fill.
type SyncOptions struct {
	// Workers, when above 0, fixes the number of copies in flight. Left 0,
	// the number adapts between MinWorkers and MaxWorkers: it grows while
	// throughput grows and latency holds, and shrinks on SlowDown/503 and
	// on rising latency.
	Workers int
	// MinWorkers, StartWorkers and MaxWorkers bound the adaptive pool
	// (defaults DefaultMinWorkers, DefaultStartWorkers, DefaultMaxWorkers).
	MinWorkers, StartWorkers, MaxWorkers int
	// AdjustEvery is how often the pool is resized (default DefaultAdjustEvery).
	AdjustEvery time.Duration
	// ThrottleBackoff and ThrottleMaxBackoff are the first and the longest
	// wait of a prefix S3 throttles (defaults 100ms and 20s).
	ThrottleBackoff, ThrottleMaxBackoff time.Duration
	// DryRun lists and compares but copies and deletes nothing.
	DryRun bool
	// Delete removes replica keys that the source lacks. Off by default: a
	// replica that keeps deleted media is the safer failure.
	Delete bool
	// Progress receives a live status line (a TTY); nil prints nothing.
	Progress io.Writer
	// SourceRegion and DestRegion default to the primary and DR regions;
	// failback passes DR → primary.
	SourceRegion, DestRegion string
	// Source and Dest default to b.Source → b.Replica.
	Source, Dest string
	// StorageClass of the copies; defaults to b.StorageClass when the
	// destination is the replica, else the destination bucket's default.
	StorageClass string
	// Log receives warnings; nil uses slog.Default().
	Log *slog.Logger
	// Restore, when set, restores archived source objects (restore.go).
	Restore *RestoreOptions
}

// SyncResult is what one back-fill did (or, with DryRun, would do).
type SyncResult struct {
	Source       string `json:"source"`
	Dest         string `json:"dest"`
	SourceRegion string `json:"source_region"`
	DestRegion   string `json:"dest_region"`
	DryRun       bool   `json:"dry_run,omitempty"`
	Compared     string `json:"compared"`
	Workers      int    `json:"workers"`
	PeakWorkers  int    `json:"peak_workers"`
	Adaptive     bool   `json:"adaptive"`
	// Throttled counts calls S3 throttled (SlowDown, 503); each was retried
	// after its prefix's backoff, so they are not failures.
	Throttled     int64 `json:"throttled"`
	Listed        int64 `json:"listed"`
	ReplicaListed int64 `json:"replica_listed"`
	Copied        int64 `json:"copied"`
	Skipped       int64 `json:"skipped"`
	Deleted       int64 `json:"deleted"`
	Extra         int64 `json:"extra"`
	Failed        int64 `json:"failed"`
	// Archived counts source objects in Glacier or Deep Archive (or an
	// archive tier) that the replica lacks or has an older copy of: they
	// need a restore before they can be copied, so they are reported, not
	// failed. ArchivedKeys holds the first of them.
	Archived     int64    `json:"archived"`
	ArchivedKeys []string `json:"archived_keys,omitempty"`
	// Restore says what restores of archived objects did (with Restore).
	Restore *RestoreResult `json:"restore,omitempty"`
	// Lock says whether Object Lock retention and legal holds were copied:
	// LockNone, LockCopied or LockNotCopied.
	Lock     string        `json:"object_lock,omitempty"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration_ns"`
	Errors   []string      `json:"errors,omitempty"`
}

// syncPlan is a resolved direction.
type syncPlan struct {
	src, dst             string
	srcRegion, dstRegion string
	storageClass         types.StorageClass
	kmsKey               string
	// copyOpts are the per-call options of copy requests (see gate).
	copyOpts []func(*s3.Options)
}

func resolveSync(cfg *spec.Config, b spec.Bucket, opts SyncOptions) (syncPlan, error) {
	p := syncPlan{
		src: opts.Source, dst: opts.Dest,
		srcRegion: opts.SourceRegion, dstRegion: opts.DestRegion,
	}
	if p.src == "" {
		p.src = b.Source
	}
	if p.dst == "" {
		p.dst = b.Replica
	}
	if p.srcRegion == "" {
		p.srcRegion = cfg.Primary.Region
	}
	if p.dstRegion == "" {
		p.dstRegion = cfg.DR.Region
	}
	if p.src == "" || p.dst == "" || p.src == p.dst {
		return p, fmt.Errorf("bucket %q: need two different buckets, have source %q and replica %q", b.Name, p.src, p.dst)
	}
	if err := samePartition(p.src, p.srcRegion, p.dst, p.dstRegion); err != nil {
		return p, err
	}
	sc := opts.StorageClass
	if sc == "" && p.dst == b.Replica {
		sc = b.StorageClass
	}
	p.storageClass = types.StorageClass(sc)
	if p.dst == b.Replica {
		p.kmsKey = b.ReplicaKMSKey
	}
	return p, nil
}

// samePartition refuses a copy between partitions: AWS cannot do one, and
// moto would pretend to.
func samePartition(src, srcRegion, dst, dstRegion string) error {
	ps, err := partition.Of(srcRegion)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", src, err)
	}
	pd, err := partition.Of(dstRegion)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", dst, err)
	}
	if ps.ID != pd.ID {
		return fmt.Errorf("bucket %s (%s, partition %s) to bucket %s (%s, partition %s): replication never crosses partitions",
			src, srcRegion, ps.ID, dst, dstRegion, pd.ID)
	}
	return nil
}

// Sync back-fills the replica with server-side copies of every source
// object that is missing there or different, and with Delete removes
// replica-only keys. A re-run copies only what is still missing or
// different, so an interrupted sync is resumed by running it again.
func Sync(ctx context.Context, env *awsenv.Env, cfg *spec.Config, b spec.Bucket, opts SyncOptions) (*SyncResult, error) {
	p, err := resolveSync(cfg, b, opts)
	if err != nil {
		return nil, err
	}
	opts = withPoolDefaults(opts)
	conns := max(opts.Workers, opts.MaxWorkers)
	src := syncS3(env, p.srcRegion, conns)
	dst := syncS3(env, p.dstRegion, conns+partsInFlight)
	r := noQuotaRetryer(dst.Options().Retryer, true)
	p.copyOpts = []func(*s3.Options){func(o *s3.Options) { o.Retryer = r }}
	return runSync(ctx, src, dst, p, opts)
}

// checkBucket makes sure bucket exists and lives in region. HeadBucket is
// answered with the bucket's region (x-amz-bucket-region) on success and on
// AWS's 301 for the wrong region alike.
func checkBucket(ctx context.Context, api objectAPI, role, bucket, region string) error {
	out, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	actual := ""
	if err != nil {
		actual = regionHeader(err)
	} else {
		actual = aws.ToString(out.BucketRegion)
	}
	if actual != "" && actual != region {
		return wrongRegion(role, bucket, actual, region)
	}
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("%s bucket %s: does not exist (looked in %s)", role, bucket, region)
		}
		return fmt.Errorf("%s bucket %s: %s: %w", role, bucket, region, err)
	}
	return nil
}

func wrongRegion(role, bucket, actual, want string) error {
	if !partition.SamePartition(actual, want) {
		pa, _ := partition.Of(actual)
		pw, _ := partition.Of(want)
		return fmt.Errorf("%s bucket %s is in %s (partition %s), not %s (partition %s): replication never crosses partitions",
			role, bucket, actual, pa.ID, want, pw.ID)
	}
	return fmt.Errorf("%s bucket %s is in %s, but the config puts it in %s", role, bucket, actual, want)
}

// syncStats are the live counters a sync updates and progress reads.
type syncStats struct {
	listed, replicaListed, queued, copied, skipped, deleted, extra, failed, bytes, queuedBytes, archived atomic.Int64
	listingDone                                                                                          atomic.Bool

	mu           sync.Mutex
	errors       []string
	archivedKeys []string
}

func (s *syncStats) archive(key string) {
	s.archived.Add(1)
	s.mu.Lock()
	if len(s.archivedKeys) < maxErrors {
		s.archivedKeys = append(s.archivedKeys, key)
	}
	s.mu.Unlock()
}

func (s *syncStats) fail(err error) {
	s.failed.Add(1)
	s.mu.Lock()
	if len(s.errors) < maxErrors {
		s.errors = append(s.errors, err.Error())
	}
	s.mu.Unlock()
}

// withPoolDefaults fills the pool bounds left 0.
func withPoolDefaults(opts SyncOptions) SyncOptions {
	if opts.MinWorkers <= 0 {
		opts.MinWorkers = DefaultMinWorkers
	}
	if opts.MaxWorkers <= 0 {
		opts.MaxWorkers = DefaultMaxWorkers
	}
	if opts.StartWorkers <= 0 {
		opts.StartWorkers = DefaultStartWorkers
	}
	if opts.AdjustEvery <= 0 {
		opts.AdjustEvery = DefaultAdjustEvery
	}
	return opts
}

func runSync(ctx context.Context, src, dst objectAPI, p syncPlan, opts SyncOptions) (*SyncResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	opts = withPoolDefaults(opts)
	adaptive := opts.Workers <= 0
	pool := opts.Workers
	if adaptive {
		pool = opts.MaxWorkers
	}
	start := time.Now()
	// The listings start with the checks rather than after them: the first
	// pages arrive while the buckets are checked. A check's error wins.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcList := startListing(lctx, src, p.src, p.srcRegion)
	dstList := startListing(lctx, dst, p.dst, p.dstRegion)
	pf, err := preflight(ctx, src, dst, p, log)
	if err != nil {
		return nil, err
	}
	mode := pf.mode
	rs, err := newRestorer(src, p, opts, log)
	if err != nil {
		return nil, err
	}
	lock := LockNone
	switch {
	case pf.lock[0] && pf.lock[1]:
		lock = LockCopied
	case pf.lock[0]:
		lock = LockNotCopied
		log.Warn("source bucket has Object Lock and the replica has none: retention and legal holds are not copied",
			"source", p.src, "replica", p.dst, "region", p.dstRegion)
	}
	smp := &sampler{since: time.Now()}
	g := newGate(opts.ThrottleBackoff, opts.ThrottleMaxBackoff)
	g.observe = smp.observe
	c := &copier{
		src: src, dst: dst, srcBucket: p.src, dstBucket: p.dst, srcRegion: p.srcRegion, dstRegion: p.dstRegion,
		storageClass: p.storageClass, kmsKey: p.kmsKey, mode: mode, gate: g, callOpts: p.copyOpts,
		lock: lock == LockCopied,
	}
	// The limit starts at 0 and is raised below, once the workers the
	// raise starts have something to run.
	lim := newLimiter(0)
	stopAdapt := func() {}

	st := &syncStats{}
	stopProgress := startProgress(opts.Progress, st, start)

	// Large objects take a lane of their own so that one listed behind
	// thousands of small ones starts at once instead of finishing last;
	// small ones queue up to queueAhead deep so that the merge, and with it
	// the discovery of large objects, runs well ahead of the copies.
	jobs := make(chan object, max(queueAhead, pool*2))
	bigJobs := make(chan object, pool)
	var wg sync.WaitGroup
	do := func(o object) {
		// A prefix S3 throttled is waited out before taking a slot: a
		// worker held on one prefix's backoff must not keep a copy to
		// another prefix from running.
		if err := g.wait(ctx, o.Key); err != nil {
			st.fail(fmt.Errorf("copy s3://%s/%s (%s): %w", p.src, o.Key, p.srcRegion, err))
			return
		}
		lim.acquire()
		defer lim.release()
		if o.maybeKMS {
			kms, err := sourceIsKMS(ctx, src, p.src, o.Key)
			switch {
			case err != nil && !notFound(err):
				st.fail(fmt.Errorf("head s3://%s/%s (%s): %w", p.src, o.Key, p.srcRegion, err))
				return
			case err != nil, kms:
				// Deleted since the listing, or an SSE-KMS object whose
				// replica was written after it: nothing to copy.
				st.skipped.Add(1)
				return
			}
		}
		if !rs.ready(ctx, o) {
			st.archive(o.Key)
			return
		}
		err := c.copy(ctx, o)
		if errors.Is(err, errArchived) {
			rs.refused(ctx, o)
			st.archive(o.Key)
			return
		}
		if err != nil {
			st.fail(err)
			return
		}
		rs.done(o)
		st.copied.Add(1)
		st.bytes.Add(o.Size)
	}
	// Workers are started as the limit first reaches them, not all of
	// MaxWorkers up front: every idle goroutine is a stack each GC scans,
	// and 1,024 of them cost a sync of small objects measurable CPU.
	spawn := func(i int) {
		wg.Add(1)
		// One worker in sixteen takes large objects first and small ones
		// when no large one waits, so that none idles; the rest take small
		// objects only.
		if i%16 != 0 {
			go func() {
				defer wg.Done()
				for o := range jobs {
					do(o)
				}
			}()
			return
		}
		go func() {
			defer wg.Done()
			small, big := (<-chan object)(jobs), (<-chan object)(bigJobs)
			for small != nil || big != nil {
				select {
				case o, ok := <-big:
					if !ok {
						big = nil
						continue
					}
					do(o)
					continue
				default:
				}
				select {
				case o, ok := <-big:
					if !ok {
						big = nil
						continue
					}
					do(o)
				case o, ok := <-small:
					if !ok {
						small = nil
						continue
					}
					do(o)
				}
			}
		}()
	}
	var spawnMu sync.Mutex
	spawned, closed := 0, false
	lim.onRaise = func(n int) {
		spawnMu.Lock()
		defer spawnMu.Unlock()
		// Once the queues are closed the workers are draining: a raise
		// then must not add to the WaitGroup being waited on.
		for ; spawned < n && !closed; spawned++ {
			spawn(spawned)
		}
	}
	if adaptive {
		lim.set(clamp(opts.StartWorkers, opts.MinWorkers, opts.MaxWorkers))
		stopAdapt = adapt(ctx, lim, smp, newController(opts.MinWorkers, opts.StartWorkers, opts.MaxWorkers), opts.AdjustEvery, log)
	} else {
		lim.set(pool)
	}

	var doomed []string
	del := func(final bool) {
		if len(doomed) == 0 || (!final && len(doomed) < 1000) {
			return
		}
		n, err := deleteKeys(ctx, dst, p.dst, p.dstRegion, doomed)
		st.deleted.Add(n)
		if err != nil {
			st.fail(err)
		}
		doomed = doomed[:0]
	}
	queue := func(o object) error {
		st.queued.Add(1)
		st.queuedBytes.Add(o.Size)
		if opts.DryRun {
			return nil
		}
		q := jobs
		if o.Size >= bigObject {
			q = bigJobs
		}
		select {
		case q <- o:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	mergeErr := merge(newCursor(srcList), newCursor(dstList), func(s, d *object) error {
		switch {
		case d == nil:
			st.listed.Add(1)
			if archived(s.StorageClass) && !rs.on() {
				st.archive(s.Key)
				return nil
			}
			return queue(*s)
		case s == nil:
			st.replicaListed.Add(1)
			st.extra.Add(1)
			if opts.Delete {
				if opts.DryRun {
					st.deleted.Add(1)
				} else {
					doomed = append(doomed, d.Key)
					del(false)
				}
			}
			return nil
		default:
			st.listed.Add(1)
			st.replicaListed.Add(1)
			if differs(mode, s, d) != "" {
				if archived(s.StorageClass) && !rs.on() {
					st.archive(s.Key)
					return nil
				}
				o := *s
				o.maybeKMS = mode == CompareETag && maybeKMS(s, d)
				return queue(o)
			}
			st.skipped.Add(1)
			return nil
		}
	})
	st.listingDone.Store(true)
	spawnMu.Lock()
	closed = true
	close(jobs)
	close(bigJobs)
	spawnMu.Unlock()
	wg.Wait()
	stopAdapt()
	if mergeErr == nil {
		del(true)
	}
	stopProgress()
	workers, peak := lim.stats()

	res := &SyncResult{
		Source: p.src, Dest: p.dst, SourceRegion: p.srcRegion, DestRegion: p.dstRegion,
		DryRun: opts.DryRun, Compared: mode, Workers: workers, PeakWorkers: peak, Adaptive: adaptive,
		Throttled: smp.throttles(), Archived: st.archived.Load(), ArchivedKeys: st.archivedKeys, Lock: lock,
		Listed: st.listed.Load(), ReplicaListed: st.replicaListed.Load(),
		Copied: st.copied.Load(), Skipped: st.skipped.Load(), Deleted: st.deleted.Load(),
		Extra: st.extra.Load(), Failed: st.failed.Load(), Bytes: st.bytes.Load(),
		Duration: time.Since(start), Errors: st.errors, Restore: rs.result(),
	}
	if opts.DryRun {
		res.Copied, res.Bytes = st.queued.Load(), st.queuedBytes.Load()
	}
	if res.Archived > 0 && !rs.on() {
		log.Warn("archived objects skipped: restore them, then sync again", "bucket", p.src, "region", p.srcRegion,
			"count", res.Archived, "first", res.ArchivedKeys[0])
	}
	switch {
	case mergeErr != nil:
		return res, fmt.Errorf("sync %s (%s) to %s (%s): %w", p.src, p.srcRegion, p.dst, p.dstRegion, mergeErr)
	case res.Failed > 0:
		return res, fmt.Errorf("sync %s (%s) to %s (%s): %d objects failed, first: %s", p.src, p.srcRegion, p.dst, p.dstRegion, res.Failed, res.Errors[0])
	}
	return res, nil
}

// preflightResult is how keys are compared and which bucket has Object Lock.
type preflightResult struct {
	mode string
	lock [2]bool // source, replica
}

// preflight checks both buckets at once and picks how keys are compared:
// two round trips whatever the number of checks.
func preflight(ctx context.Context, src, dst objectAPI, p syncPlan, log *slog.Logger) (preflightResult, error) {
	var res preflightResult
	errs := make([]error, 2)
	kms := make([]bool, 2)
	var wg sync.WaitGroup
	for i, side := range []struct {
		api             objectAPI
		role, b, region string
	}{{src, "source", p.src, p.srcRegion}, {dst, "replica", p.dst, p.dstRegion}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = checkBucket(ctx, side.api, side.role, side.b, side.region); errs[i] == nil {
				kms[i] = kmsDefault(ctx, side.api, side.b, log)
				res.lock[i] = lockEnabled(ctx, side.api, side.b, log)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	res.mode = CompareETag
	if p.kmsKey != "" || kms[0] || kms[1] {
		res.mode = CompareModified
	}
	return res, nil
}

// deleteKeys removes up to 1,000 keys in one call and counts what went.
func deleteKeys(ctx context.Context, api objectAPI, bucket, region string, keys []string) (int64, error) {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d replica-only keys from %s (%s): %w", len(keys), bucket, region, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return int64(len(keys) - len(out.Errors)), fmt.Errorf("delete %d of %d replica-only keys from %s (%s) failed, first %s: %s",
			len(out.Errors), len(keys), bucket, region, aws.ToString(e.Key), aws.ToString(e.Message))
	}
	return int64(len(keys)), nil
}

// adapt resizes lim every period from the copies' outcomes until stopped.
func adapt(ctx context.Context, lim *limiter, smp *sampler, ctl *controller, every time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The first window is short (see firstWindow); then every period.
		t := time.NewTicker(every / firstWindow)
		defer t.Stop()
		first := true
		for {
			select {
			case now := <-t.C:
				if first {
					first = false
					t.Reset(every)
				}
				w := smp.take(now)
				w.busy = lim.takeBusy(now, w.elapsed)
				before, _ := lim.stats()
				if n := ctl.next(w); n != before {
					lim.set(n)
					log.Debug("copies in flight", "from", before, "to", n, "done", w.done, "throttled", w.throttled)
				}
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
