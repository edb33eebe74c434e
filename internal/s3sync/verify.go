package s3sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// listMax bounds each key list in a VerifyResult; the counts are exact.
// A fresh replica of a large bucket would otherwise hold every key in memory.
const listMax = 1000

// statusMax bounds the HeadObject calls verify makes to read replication
// status, and statusWorkers how many run at once.
const (
	statusMax     = 1000
	statusWorkers = 16
)

// StatusScope says which source objects verify reads the replication
// status of. Listings do not carry it and a HeadObject per key would make
// verify of 100,000 keys a 100,000-call job: a key whose replica is
// present and equal needs no status, so only missing and different keys
// are asked, the first statusMax of them in key order.
const StatusScope = "missing and different keys only (first 1000 in key order)"

// Diff is one key whose replica differs from the source.
type Diff struct {
	Key string `json:"key"`
	Why string `json:"why"`
}

// VerifyResult compares the source and replica buckets.
type VerifyResult struct {
	Source        string `json:"source"`
	Replica       string `json:"replica"`
	SourceRegion  string `json:"source_region"`
	ReplicaRegion string `json:"replica_region"`
	// Converged: nothing missing or different, and no extra keys unless
	// extras are expected (delete markers are not replicated).
	Converged      bool     `json:"converged"`
	SourceObjects  int64    `json:"source_objects"`
	ReplicaObjects int64    `json:"replica_objects"`
	Missing        []string `json:"missing"`
	Extra          []string `json:"extra"`
	Different      []Diff   `json:"different"`
	MissingCount   int64    `json:"missing_count"`
	ExtraCount     int64    `json:"extra_count"`
	DifferentCount int64    `json:"different_count"`
	// ExtraAllowed is true when deletes are not replicated
	// (delete_markers: false), so replica-only keys are expected.
	ExtraAllowed bool `json:"extra_allowed"`
	// Truncated: a list holds only its first listMax keys.
	Truncated bool `json:"truncated"`
	// Pending and Failed count source objects whose replication status is
	// PENDING or FAILED among those checked (see StatusScope).
	Pending       int64         `json:"pending"`
	Failed        int64         `json:"failed"`
	OldestPending time.Duration `json:"oldest_pending_ns"`
	StatusChecked int64         `json:"status_checked"`
	StatusScope   string        `json:"status_scope"`
	// ArchivedCount counts source objects in Glacier or Deep Archive that
	// the replica lacks or has an older copy of: they need a restore before
	// a sync can copy them, so they are reported here and do not keep verify
	// from converging. Archived holds the first listMax of them.
	ArchivedCount int64    `json:"archived_count"`
	Archived      []string `json:"archived"`
	// KMSChecked counts keys whose ETags differed but whose source is
	// SSE-KMS (a HEAD each): an SSE-KMS ETag is no content hash, so such a
	// key is equal when the replica was written after it.
	KMSChecked int64 `json:"kms_checked"`
	// Complete is false when a verify with a checkpoint store ran out of
	// time: the counts cover the keys up to ResumeAfter, where the next
	// verify continues, and Converged is false until a pass completes.
	Complete    bool   `json:"complete"`
	ResumeAfter string `json:"resume_after,omitempty"`
	// Passes is how many runs this result took (1 without a checkpoint).
	Passes int `json:"passes"`
	// Compared says how keys present on both sides were compared:
	// CompareETag or CompareModified.
	Compared string `json:"compared"`
	// SourceRead says how the source's keys were read, as a sentence that
	// starts with ReadListing or ReadInventory; Inventory names the
	// inventory read, and InventoryNote why none was (in auto mode).
	SourceRead    string         `json:"source_read"`
	Inventory     *InventoryInfo `json:"inventory,omitempty"`
	InventoryNote string         `json:"inventory_note,omitempty"`
	// NotJudged counts replica keys written after the inventory was taken,
	// alone or differing from the inventory's copy: the source may have
	// changed since, so they are neither extra nor different (the next
	// inventory judges them).
	NotJudged int64 `json:"not_judged"`
	// Gone counts keys found in the source's listing or inventory that the
	// replica lacks but the source no longer has either (its HEAD says so):
	// deleted since, so not missing. Only keys whose status is read (see
	// StatusScope) can be found gone.
	Gone     int64         `json:"gone"`
	Duration time.Duration `json:"duration_ns"`
}

// clone copies r with its own lists, so that a pass can be started again.
func (r *VerifyResult) clone() *VerifyResult {
	c := *r
	c.Missing = append([]string{}, r.Missing...)
	c.Extra = append([]string{}, r.Extra...)
	c.Archived = append([]string{}, r.Archived...)
	c.Different = append([]Diff{}, r.Different...)
	return &c
}

// VerifyOptions choose the direction; the zero value is primary → DR.
type VerifyOptions struct {
	SourceRegion, DestRegion string
	Source, Dest             string
	Log                      *slog.Logger
	// Checkpoint makes a long verify resumable (a Lambda invocation has 15
	// minutes): at Until it stops, saves its position and partial counts
	// under CheckpointKey, and returns an incomplete result; the next verify
	// of the same direction continues from there. Nil lists everything.
	Checkpoint CheckpointStore
	// Until is when to stop; zero is the context's deadline less
	// CheckpointMargin (DefaultCheckpointMargin), or never without one.
	Until            time.Time
	CheckpointMargin time.Duration
	// SourceList is how the source's keys are read: SourceListAuto (the
	// default, ""), SourceListInventory or SourceListListing. An inventory
	// is up to a day old (a week for a weekly one): replica keys written
	// after it are not judged (VerifyResult.NotJudged).
	SourceList string

	now func() time.Time // tests step a clock
}

// errOutOfTime stops a verify's merge at its Until.
var errOutOfTime = errors.New("verify ran out of time")

// Verify compares the source bucket with its replica.
func Verify(ctx context.Context, env *awsenv.Env, cfg *spec.Config, b spec.Bucket) (*VerifyResult, error) {
	return VerifyWith(ctx, env, cfg, b, VerifyOptions{})
}

// VerifyWith is Verify in a chosen direction (failback verifies DR → primary).
func VerifyWith(ctx context.Context, env *awsenv.Env, cfg *spec.Config, b spec.Bucket, opts VerifyOptions) (*VerifyResult, error) {
	p, err := resolveSync(cfg, b, SyncOptions{SourceRegion: opts.SourceRegion, DestRegion: opts.DestRegion, Source: opts.Source, Dest: opts.Dest})
	if err != nil {
		return nil, err
	}
	src := syncS3(env, p.srcRegion, kmsWorkers+statusWorkers)
	dst := syncS3(env, p.dstRegion, 0)
	return runVerify(ctx, src, dst, p, !b.DeleteMarkers, opts)
}

func runVerify(ctx context.Context, src, dst objectAPI, p syncPlan, extraAllowed bool, opts VerifyOptions) (*VerifyResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	now := opts.now
	if now == nil {
		now = time.Now
	}
	start := now()
	res := newVerifyResult(p, extraAllowed)
	var (
		cp     *checkpoint
		cpKey  = CheckpointKey(p.src, p.dst)
		until  time.Time
		after  string
		passes = 1
	)
	if opts.Checkpoint != nil {
		var err error
		if cp, err = loadCheckpoint(ctx, opts.Checkpoint, cpKey, start); err != nil {
			return nil, err
		}
		if cp != nil {
			res, after, passes = cp.Partial, cp.After, cp.Passes+1
			res.ExtraAllowed = extraAllowed
			log.Info("verify resumes from its checkpoint", "bucket", p.src, "region", p.srcRegion, "after", after, "pass", passes)
		} else {
			cp = &checkpoint{Started: start}
		}
		until = opts.Until
		if dl, ok := ctx.Deadline(); ok && until.IsZero() {
			margin := opts.CheckpointMargin
			if margin <= 0 {
				margin = DefaultCheckpointMargin
			}
			until = dl.Add(-margin)
		}
	}
	mode := opts.SourceList
	switch mode {
	case "", SourceListAuto:
		mode = SourceListAuto
	case SourceListInventory, SourceListListing:
	default:
		return nil, fmt.Errorf("verify %s: source list %q: want %s, %s or %s", p.src, mode, SourceListAuto, SourceListInventory, SourceListListing)
	}
	// A resumed verify reads the source as its first pass did.
	var inv *inventory
	note := ""
	invAPI, canInv := src.(inventoryAPI)
	switch {
	case res.Inventory != nil && canInv:
		var err error
		inv, err = readManifest(ctx, invAPI, res.Inventory.Bucket, res.Inventory.Manifest, p.src)
		if err != nil {
			// The inventory went (a lifecycle rule): start afresh.
			log.Warn("verify checkpoint's inventory unreadable; starting afresh", "bucket", p.src, "manifest", res.Inventory.Manifest, "err", err)
			res, after, passes = newVerifyResult(p, extraAllowed), "", 1
			cp = &checkpoint{Started: start}
			inv = nil
		} else {
			inv.info = *res.Inventory
		}
	case res.SourceRead != "" && !strings.HasPrefix(res.SourceRead, ReadInventory):
		// listed before: keep listing
	case mode == SourceListListing:
		note = "listing asked for"
	case !canInv:
		note = "this client cannot read inventories"
	default:
		var err error
		if inv, note, err = findInventory(ctx, invAPI, p.src, now()); err != nil {
			return nil, fmt.Errorf("verify %s (%s): %w", p.src, p.srcRegion, err)
		}
	}
	if inv == nil && res.SourceRead == "" && mode == SourceListInventory {
		return nil, fmt.Errorf("verify %s (%s): an inventory is required and there is none to read: %s", p.src, p.srcRegion, note)
	}

	base := res.clone()
	pass, err := verifyPass(ctx, src, dst, p, res, after, inv, until, now, log)
	if err != nil && inv != nil && isInventoryErr(err) && mode == SourceListAuto {
		// A bad inventory costs a listing, not a failed verify.
		log.Warn("S3 Inventory unreadable part-way; verify lists the source instead", "bucket", p.src, "region", p.srcRegion, "err", err)
		note = err.Error()
		base.Inventory, base.SourceRead = nil, ""
		pass, err = verifyPass(ctx, src, dst, p, base, after, nil, until, now, log)
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s (%s) against %s (%s): %w", p.src, p.srcRegion, p.dst, p.dstRegion, err)
	}
	res = pass.res
	if note != "" {
		res.InventoryNote = note
	}
	st, kd, last, stopped := pass.st, pass.kd, pass.last, pass.stopped
	if st.err != nil {
		return nil, fmt.Errorf("verify %s (%s): replication status: %w", p.src, p.srcRegion, st.err)
	}
	if kd.err != nil {
		return nil, fmt.Errorf("verify %s (%s): object encryption: %w", p.src, p.srcRegion, kd.err)
	}
	if len(st.gone) > 0 {
		gone := make(map[string]bool, len(st.gone))
		for _, k := range st.gone {
			gone[k] = true
		}
		kept := res.Missing[:0]
		for _, k := range res.Missing {
			if !gone[k] {
				kept = append(kept, k)
			}
		}
		res.Missing = kept
		res.MissingCount -= int64(len(st.gone))
		res.Gone += int64(len(st.gone))
	}
	res.KMSChecked = kd.kms
	if kd.count > int64(len(kd.diffs)) {
		res.Truncated = true
	}
	if len(kd.diffs) > 0 {
		res.DifferentCount += kd.count
		res.Different = append(res.Different, kd.diffs...)
		sort.Slice(res.Different, func(i, j int) bool { return res.Different[i].Key < res.Different[j].Key })
		if len(res.Different) > listMax {
			res.Different, res.Truncated = res.Different[:listMax], true
		}
	}
	res.Pending += st.pending
	res.Failed += st.failed
	res.StatusChecked += st.checked
	res.OldestPending = max(res.OldestPending, st.oldest)
	res.Passes = passes
	res.Duration = now().Sub(start)
	if stopped {
		res.Complete, res.ResumeAfter, res.Converged = false, last, false
		cp.After, cp.Saved, cp.Passes, cp.Partial = last, now(), passes, res
		if err := saveCheckpoint(ctx, opts.Checkpoint, cpKey, cp); err != nil {
			return res, fmt.Errorf("verify %s (%s): %w", p.src, p.srcRegion, err)
		}
		log.Info("verify out of time; the next one continues", "bucket", p.src, "region", p.srcRegion, "after", last, "pass", passes)
		return res, nil
	}
	res.Complete, res.ResumeAfter = true, ""
	if opts.Checkpoint != nil && passes > 1 {
		if err := opts.Checkpoint.Delete(context.WithoutCancel(ctx), cpKey); err != nil {
			log.Warn("verify checkpoint not removed; the next verify starts from it", "key", cpKey, "err", err)
		}
	}
	res.Converged = res.MissingCount == 0 && res.DifferentCount == 0 && (res.ExtraCount == 0 || extraAllowed)
	return res, nil
}

// passResult is one merge of the source's keys with the replica's.
type passResult struct {
	res     *VerifyResult
	st      statusCount
	kd      kmsOutcome
	last    string
	stopped bool
}

// verifyPass merges the source (listed, or read from inv) with the
// replica's listing from after on, adding to res.
func verifyPass(ctx context.Context, src, dst objectAPI, p syncPlan, res *VerifyResult, after string, inv *inventory, until time.Time, now func() time.Time, log *slog.Logger) (passResult, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		srcList *listing
		invDate time.Time
	)
	if inv != nil {
		srcList = startInventory(lctx, src.(inventoryAPI), inv, p.src, p.srcRegion, after)
		invDate = inv.info.Date
		info := inv.info
		res.Inventory = &info
		res.SourceRead = fmt.Sprintf("%s %s of %s (s3://%s/%s): keys written since are not judged",
			ReadInventory, info.ConfigID, info.Date.UTC().Format(time.RFC3339), info.Bucket, info.Manifest)
		log.Info("verify reads the source from its S3 Inventory", "bucket", p.src, "region", p.srcRegion,
			"inventory", info.ConfigID, "date", info.Date, "age", now().Sub(info.Date).Round(time.Minute), "files", info.Files)
	} else {
		srcList = startListingAfter(lctx, src, p.src, p.srcRegion, after)
		res.SourceRead = ReadListing + " of the source bucket"
	}
	dstList := startListingAfter(lctx, dst, p.dst, p.dstRegion, after)
	pf, err := preflight(ctx, src, dst, p, log)
	if err != nil {
		return passResult{}, err
	}
	res.Compared = pf.mode

	status := newStatusChecker(lctx, src, p.src, time.Now())
	kmsCheck := newKMSResolver(lctx, src, p.src)
	archive := func(key string) {
		res.ArchivedCount++
		if len(res.Archived) < listMax {
			res.Archived = append(res.Archived, key)
		} else {
			res.Truncated = true
		}
	}
	// newer: the replica's copy was written after the inventory was taken,
	// when the source may have changed too.
	newer := func(d *object) bool { return inv != nil && d.LastModified.After(invDate) }
	last := after
	err = merge(newCursor(srcList), newCursor(dstList), func(s, d *object) error {
		if !until.IsZero() && now().After(until) {
			return errOutOfTime
		}
		if s != nil {
			last = s.Key
		} else {
			last = d.Key
		}
		switch {
		case d == nil && archived(s.StorageClass):
			res.SourceObjects++
			archive(s.Key)
		case d == nil:
			res.SourceObjects++
			res.MissingCount++
			if len(res.Missing) < listMax {
				res.Missing = append(res.Missing, s.Key)
			} else {
				res.Truncated = true
			}
			o := *s
			o.missing = true
			status.check(o)
		case s == nil && newer(d):
			res.ReplicaObjects++
			res.NotJudged++
		case s == nil:
			res.ReplicaObjects++
			res.ExtraCount++
			if len(res.Extra) < listMax {
				res.Extra = append(res.Extra, d.Key)
			} else {
				res.Truncated = true
			}
		default:
			res.SourceObjects++
			res.ReplicaObjects++
			why := differs(res.Compared, s, d)
			switch {
			case why == "":
			case newer(d):
				res.NotJudged++
			case archived(s.StorageClass):
				archive(s.Key)
			case res.Compared == CompareETag && maybeKMS(s, d):
				kmsCheck.check(*s, why)
			default:
				res.DifferentCount++
				if len(res.Different) < listMax {
					res.Different = append(res.Different, Diff{Key: s.Key, Why: why})
				} else {
					res.Truncated = true
				}
				status.check(*s)
			}
		}
		return nil
	})
	out := passResult{res: res, st: status.wait(), kd: kmsCheck.wait(), last: last}
	if errors.Is(err, errOutOfTime) {
		out.stopped, err = true, nil
	}
	return out, err
}

func newVerifyResult(p syncPlan, extraAllowed bool) *VerifyResult {
	return &VerifyResult{
		Source: p.src, Replica: p.dst, SourceRegion: p.srcRegion, ReplicaRegion: p.dstRegion,
		Missing: []string{}, Extra: []string{}, Different: []Diff{}, Archived: []string{},
		ExtraAllowed: extraAllowed, StatusScope: StatusScope,
	}
}

// statusChecker reads the replication status of up to statusMax source
// objects in the background while the merge goes on.
type statusChecker struct {
	ch  chan object
	wg  sync.WaitGroup
	now time.Time

	mu  sync.Mutex
	out statusCount
	n   int
}

type statusCount struct {
	checked, pending, failed int64
	oldest                   time.Duration
	// gone: keys queued as missing that the source no longer has.
	gone []string
	err  error
}

func newStatusChecker(ctx context.Context, api objectAPI, bucket string, now time.Time) *statusChecker {
	c := &statusChecker{ch: make(chan object, statusMax), now: now}
	for i := 0; i < statusWorkers; i++ {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for o := range c.ch {
				h, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key)})
				c.mu.Lock()
				switch {
				case err != nil && notFound(err):
					// Deleted since the listing: nothing to replicate.
					if o.missing {
						c.out.gone = append(c.out.gone, o.Key)
					}
				case err != nil:
					if c.out.err == nil {
						c.out.err = fmt.Errorf("head s3://%s/%s: %w", bucket, o.Key, err)
					}
				default:
					c.out.checked++
					switch h.ReplicationStatus {
					case types.ReplicationStatusPending:
						c.out.pending++
						c.out.oldest = max(c.out.oldest, c.now.Sub(o.LastModified))
					case types.ReplicationStatusFailed:
						c.out.failed++
					}
				}
				c.mu.Unlock()
			}
		}()
	}
	return c
}

// check queues o unless statusMax objects were queued already.
func (c *statusChecker) check(o object) {
	if c.n >= statusMax {
		return
	}
	c.n++
	c.ch <- o // never blocks: the buffer holds statusMax
}

func (c *statusChecker) wait() statusCount {
	close(c.ch)
	c.wg.Wait()
	return c.out
}

// kmsWorkers bounds the HEADs verify makes to read objects' encryption.
const kmsWorkers = 32

// kmsResolver HEADs source keys whose ETags differ from their replica's in
// the background, and keeps as different those that are not SSE-KMS.
type kmsResolver struct {
	ch chan kmsQuery
	wg sync.WaitGroup

	mu  sync.Mutex
	out kmsOutcome
}

type kmsQuery struct {
	key, why string
}

type kmsOutcome struct {
	kms, count int64
	diffs      []Diff
	err        error
}

func newKMSResolver(ctx context.Context, api objectAPI, bucket string) *kmsResolver {
	r := &kmsResolver{ch: make(chan kmsQuery, 1024)}
	for i := 0; i < kmsWorkers; i++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for q := range r.ch {
				kms, err := sourceIsKMS(ctx, api, bucket, q.key)
				r.mu.Lock()
				switch {
				case err != nil && notFound(err):
					// Deleted since the listing.
				case err != nil:
					if r.out.err == nil {
						r.out.err = fmt.Errorf("head s3://%s/%s: %w", bucket, q.key, err)
					}
				case kms:
					r.out.kms++
				default:
					r.out.count++
					if len(r.out.diffs) < listMax {
						r.out.diffs = append(r.out.diffs, Diff{Key: q.key, Why: q.why})
					}
				}
				r.mu.Unlock()
			}
		}()
	}
	return r
}

func (r *kmsResolver) check(o object, why string) { r.ch <- kmsQuery{key: o.Key, why: why} }

func (r *kmsResolver) wait() kmsOutcome {
	close(r.ch)
	r.wg.Wait()
	return r.out
}
