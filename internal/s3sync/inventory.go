package s3sync

import (
	"compress/gzip"
	"container/heap"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// How verify reads the source bucket (VerifyOptions.SourceList).
const (
	// SourceListAuto reads the source's newest S3 Inventory when one is
	// configured, readable and recent enough, and lists the bucket otherwise
	// (or when reading the inventory fails part-way).
	SourceListAuto = "auto"
	// SourceListInventory requires the inventory: verify fails without one.
	SourceListInventory = "inventory"
	// SourceListListing always lists the source.
	SourceListListing = "list"
)

// What VerifyResult.SourceRead starts with.
const (
	ReadListing   = "listing"
	ReadInventory = "inventory"
)

// maxInventoryAge is the oldest inventory verify reads: a weekly one is up
// to seven days old when the next is due, and S3 takes up to a day more to
// deliver it. Older means the configuration stopped delivering.
const maxInventoryAge = 8 * 24 * time.Hour

// maxInventoryFiles bounds the data files read at once: each is streamed
// and merged with the others by key, so each holds a connection and a
// decompressor (about 50 KB) for the whole verify.
const maxInventoryFiles = 256

// inventoryAPI is what reading an S3 Inventory needs: the source bucket's
// inventory configurations, then the manifest and data files from the
// inventory's destination bucket (same region as the source, as S3 requires).
type inventoryAPI interface {
	listAPI
	ListBucketInventoryConfigurations(ctx context.Context, in *s3.ListBucketInventoryConfigurationsInput, optFns ...func(*s3.Options)) (*s3.ListBucketInventoryConfigurationsOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// InventoryInfo names the S3 Inventory a verify read instead of listing.
type InventoryInfo struct {
	ConfigID string `json:"config_id"`
	// Bucket and Manifest locate manifest.json (in the inventory's
	// destination bucket).
	Bucket   string `json:"bucket"`
	Manifest string `json:"manifest"`
	// Date is when S3 began scanning the source for this inventory: keys
	// written after it are not in it.
	Date   time.Time `json:"date"`
	Format string    `json:"format"`
	Files  int       `json:"files"`
}

// inventoryManifest is manifest.json as S3 Inventory writes it.
type inventoryManifest struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	FileFormat        string `json:"fileFormat"`
	FileSchema        string `json:"fileSchema"`
	CreationTimestamp string `json:"creationTimestamp"`
	Files             []struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"files"`
}

// inventory is a manifest chosen for reading, with its columns resolved.
type inventory struct {
	info   InventoryInfo
	bucket string
	files  []string
	// column of each field the merge needs; -1 when absent.
	key, size, etag, modified, class, isLatest, deleteMarker int
	columns                                                  int
}

// inventoryError marks a failure of the inventory itself (unreadable,
// malformed, out of order), after which verify in auto mode lists instead.
type inventoryError struct{ err error }

func (e *inventoryError) Error() string { return "S3 Inventory: " + e.err.Error() }
func (e *inventoryError) Unwrap() error { return e.err }

func invErr(format string, args ...any) error {
	return &inventoryError{fmt.Errorf(format, args...)}
}

// findInventory picks the newest delivered inventory of bucket that covers
// all of it (no prefix filter), is enabled and in CSV. It returns nil and
// why when there is none to read; err only for a failed AWS call other than
// "no configuration" and "access denied" (verify then lists).
func findInventory(ctx context.Context, api inventoryAPI, bucket string, now time.Time) (*inventory, string, error) {
	var configs []types.InventoryConfiguration
	in := &s3.ListBucketInventoryConfigurationsInput{Bucket: aws.String(bucket)}
	for {
		out, err := api.ListBucketInventoryConfigurations(ctx, in)
		if err != nil {
			return nil, "inventory configurations unreadable: " + err.Error(), nil
		}
		configs = append(configs, out.InventoryConfigurationList...)
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	if len(configs) == 0 {
		return nil, "no S3 Inventory configured", nil
	}
	var (
		best *inventory
		why  []string
	)
	for _, c := range configs {
		id := aws.ToString(c.Id)
		var d *types.InventoryS3BucketDestination
		if c.Destination != nil {
			d = c.Destination.S3BucketDestination
		}
		switch {
		case !aws.ToBool(c.IsEnabled):
			why = append(why, id+": disabled")
			continue
		case c.Filter != nil && aws.ToString(c.Filter.Prefix) != "":
			why = append(why, id+": covers prefix "+aws.ToString(c.Filter.Prefix)+" only")
			continue
		case d == nil:
			why = append(why, id+": no destination bucket")
			continue
		case d.Format != types.InventoryFormatCsv:
			why = append(why, id+": format "+string(d.Format)+" (verify reads CSV)")
			continue
		}
		dest := aws.ToString(d.Bucket)
		if i := strings.LastIndex(dest, ":::"); i >= 0 {
			dest = dest[i+3:]
		}
		base := bucket + "/" + id + "/"
		if pre := strings.TrimSuffix(aws.ToString(d.Prefix), "/"); pre != "" {
			base = pre + "/" + base
		}
		inv, reason, err := newestManifest(ctx, api, dest, base, id, bucket)
		if err != nil {
			return nil, "", err
		}
		if inv == nil {
			why = append(why, id+": "+reason)
			continue
		}
		if age := now.Sub(inv.info.Date); age > maxInventoryAge {
			why = append(why, fmt.Sprintf("%s: newest inventory is from %s, %s old", id, inv.info.Date.UTC().Format(time.RFC3339), age.Round(time.Hour)))
			continue
		}
		if best == nil || inv.info.Date.After(best.info.Date) {
			best = inv
		}
	}
	if best == nil {
		return nil, "no readable S3 Inventory (" + strings.Join(why, "; ") + ")", nil
	}
	return best, "", nil
}

// manifestTimeLayout is the folder name S3 gives each delivery.
const manifestTimeLayout = "2006-01-02T15-04Z"

// newestManifest finds the newest manifest.json under base in dest. A
// delivery still being written has no manifest yet: the one before is read.
func newestManifest(ctx context.Context, api inventoryAPI, dest, base, id, source string) (*inventory, string, error) {
	var stamps []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(dest), Prefix: aws.String(base), Delimiter: aws.String("/")}
	for {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, "inventory destination " + dest + " unreadable: " + err.Error(), nil
		}
		for _, cp := range out.CommonPrefixes {
			s := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), base), "/")
			if _, err := time.Parse(manifestTimeLayout, s); err == nil {
				stamps = append(stamps, s)
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	if len(stamps) == 0 {
		return nil, "no inventory delivered yet in s3://" + dest + "/" + base, nil
	}
	// The layout sorts as text in time order.
	sort.Sort(sort.Reverse(sort.StringSlice(stamps)))
	for _, s := range stamps[:min(len(stamps), 3)] {
		key := base + s + "/manifest.json"
		inv, err := readManifest(ctx, api, dest, key, source)
		if err != nil && notFound(err) {
			continue
		}
		if err != nil {
			return nil, err.Error(), nil
		}
		inv.info.ConfigID = id
		return inv, "", nil
	}
	return nil, "no manifest.json in the newest deliveries under s3://" + dest + "/" + base, nil
}

// readManifest reads and checks one manifest.json.
func readManifest(ctx context.Context, api inventoryAPI, bucket, key, source string) (*inventory, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	var m inventoryManifest
	if err := json.NewDecoder(io.LimitReader(out.Body, 64<<20)).Decode(&m); err != nil {
		return nil, invErr("manifest s3://%s/%s: %w", bucket, key, err)
	}
	if m.SourceBucket != source {
		return nil, invErr("manifest s3://%s/%s is the inventory of %q, not %q", bucket, key, m.SourceBucket, source)
	}
	if !strings.EqualFold(m.FileFormat, "CSV") {
		return nil, invErr("manifest s3://%s/%s: format %s (verify reads CSV)", bucket, key, m.FileFormat)
	}
	ms, err := strconv.ParseInt(m.CreationTimestamp, 10, 64)
	if err != nil {
		return nil, invErr("manifest s3://%s/%s: creationTimestamp %q: %w", bucket, key, m.CreationTimestamp, err)
	}
	inv := &inventory{
		info:   InventoryInfo{Bucket: bucket, Manifest: key, Date: time.UnixMilli(ms).UTC(), Format: "CSV", Files: len(m.Files)},
		bucket: bucket,
		key:    -1, size: -1, etag: -1, modified: -1, class: -1, isLatest: -1, deleteMarker: -1,
	}
	for _, f := range m.Files {
		inv.files = append(inv.files, f.Key)
	}
	cols := strings.Split(m.FileSchema, ",")
	inv.columns = len(cols)
	for i, c := range cols {
		switch strings.TrimSpace(c) {
		case "Key":
			inv.key = i
		case "Size":
			inv.size = i
		case "ETag":
			inv.etag = i
		case "LastModifiedDate":
			inv.modified = i
		case "StorageClass":
			inv.class = i
		case "IsLatest":
			inv.isLatest = i
		case "IsDeleteMarker":
			inv.deleteMarker = i
		}
	}
	// A replica is compared by size and ETag, or by size and time when
	// either side is SSE-KMS: all three must be in the inventory.
	var lack []string
	for name, i := range map[string]int{"Key": inv.key, "Size": inv.size, "ETag": inv.etag, "LastModifiedDate": inv.modified} {
		if i < 0 {
			lack = append(lack, name)
		}
	}
	if len(lack) > 0 {
		sort.Strings(lack)
		return nil, invErr("manifest s3://%s/%s: the inventory lacks %s (add them as optional fields)", bucket, key, strings.Join(lack, ", "))
	}
	if len(inv.files) > maxInventoryFiles {
		return nil, invErr("manifest s3://%s/%s: %d data files, more than the %d verify merges at once", bucket, key, len(inv.files), maxInventoryFiles)
	}
	return inv, nil
}

// startInventory streams the inventory's keys after `after` in key order,
// as a listing does, so that merge can walk it beside the replica's
// listing. Each data file is in key order (S3 writes them so; it is
// checked); the files are merged by key, never held in memory.
func startInventory(ctx context.Context, api inventoryAPI, inv *inventory, source, region, after string) *listing {
	l := &listing{bucket: source, region: region, ch: make(chan []object, pagesAhead)}
	go func() {
		defer close(l.ch)
		l.err = inv.run(ctx, api, l, after)
	}()
	return l
}

func (inv *inventory) run(ctx context.Context, api inventoryAPI, l *listing, after string) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The files are opened at once, a round trip for all rather than one
	// each, at most inventoryOpens at a time.
	readers := make([]*fileReader, len(inv.files))
	errs := make([]error, len(inv.files))
	sem := make(chan struct{}, inventoryOpens)
	var wg sync.WaitGroup
	for i, f := range inv.files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := inv.open(rctx, api, f, after)
			if err == nil {
				readers[i] = r
				_, err = r.advanceFirst()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	h := &fileHeap{}
	for _, r := range readers {
		if r != nil {
			defer r.close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, r := range readers {
		if r.ok {
			h.rs = append(h.rs, r)
		}
	}
	heap.Init(h)
	const pageSize = 1000
	page := make([]object, 0, pageSize)
	prev := ""
	n := 0
	for h.Len() > 0 {
		r := h.rs[0]
		o := r.cur
		if n > 0 && o.Key <= prev {
			return invErr("key %q in two data files of %s", o.Key, inv.info.Manifest)
		}
		prev = o.Key
		n++
		page = append(page, o)
		ok, err := r.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
			r.close()
		}
		if len(page) == pageSize {
			select {
			case l.ch <- page:
			case <-ctx.Done():
				return ctx.Err()
			}
			page = make([]object, 0, pageSize)
		}
	}
	if len(page) > 0 {
		select {
		case l.ch <- page:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// inventoryOpens bounds the data files opened at once.
const inventoryOpens = 16

// advanceFirst is advance for a file just opened; ok says it had a row.
func (r *fileReader) advanceFirst() (bool, error) {
	ok, err := r.advance()
	r.ok = ok
	return ok, err
}

// fileReader reads one data file's current (latest, not deleted) objects.
type fileReader struct {
	ok    bool // advanceFirst found a row
	inv   *inventory
	file  string
	after string
	body  io.ReadCloser
	gz    *gzip.Reader
	csv   *csv.Reader
	cur   object
	prev  string
	n     int
}

func (inv *inventory) open(ctx context.Context, api inventoryAPI, file, after string) (*fileReader, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(inv.bucket), Key: aws.String(file)})
	if err != nil {
		return nil, invErr("data file s3://%s/%s: %w", inv.bucket, file, err)
	}
	r := &fileReader{inv: inv, file: file, after: after, body: out.Body}
	var src io.Reader = out.Body
	if strings.HasSuffix(file, ".gz") {
		if r.gz, err = gzip.NewReader(out.Body); err != nil {
			out.Body.Close()
			return nil, invErr("data file s3://%s/%s: %w", inv.bucket, file, err)
		}
		src = r.gz
	}
	r.csv = csv.NewReader(src)
	r.csv.FieldsPerRecord = inv.columns
	r.csv.ReuseRecord = true
	return r, nil
}

func (r *fileReader) close() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// advance reads the next current object after r.after into r.cur; false at
// the end of the file.
func (r *fileReader) advance() (bool, error) {
	inv := r.inv
	for {
		rec, err := r.csv.Read()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, invErr("data file s3://%s/%s: %w", inv.bucket, r.file, err)
		}
		if inv.isLatest >= 0 && rec[inv.isLatest] != "true" {
			continue // an older version
		}
		if inv.deleteMarker >= 0 && rec[inv.deleteMarker] == "true" {
			continue
		}
		// CSV inventories URL-encode keys (a space as '+').
		key, err := url.QueryUnescape(rec[inv.key])
		if err != nil {
			return false, invErr("data file s3://%s/%s: undecodable key %q: %w", inv.bucket, r.file, rec[inv.key], err)
		}
		if r.n > 0 && key <= r.prev {
			return false, invErr("data file s3://%s/%s: keys out of order (%q after %q)", inv.bucket, r.file, key, r.prev)
		}
		r.prev = key
		r.n++
		if key <= r.after {
			continue // compared by an earlier pass
		}
		size, err := strconv.ParseInt(rec[inv.size], 10, 64)
		if err != nil {
			return false, invErr("data file s3://%s/%s: key %q: size %q", inv.bucket, r.file, key, rec[inv.size])
		}
		mod, err := time.Parse(time.RFC3339, rec[inv.modified])
		if err != nil {
			return false, invErr("data file s3://%s/%s: key %q: last modified %q", inv.bucket, r.file, key, rec[inv.modified])
		}
		r.cur = object{
			Key:  key,
			Size: size,
			// Listings quote ETags; inventories do not.
			ETag:         `"` + strings.Trim(rec[inv.etag], `"`) + `"`,
			LastModified: mod,
		}
		if inv.class >= 0 {
			r.cur.StorageClass = rec[inv.class]
		}
		return true, nil
	}
}

// fileHeap orders open data files by their current key.
type fileHeap struct{ rs []*fileReader }

func (h *fileHeap) Len() int           { return len(h.rs) }
func (h *fileHeap) Less(i, j int) bool { return h.rs[i].cur.Key < h.rs[j].cur.Key }
func (h *fileHeap) Swap(i, j int)      { h.rs[i], h.rs[j] = h.rs[j], h.rs[i] }
func (h *fileHeap) Push(x any)         { h.rs = append(h.rs, x.(*fileReader)) }
func (h *fileHeap) Pop() any {
	r := h.rs[len(h.rs)-1]
	h.rs = h.rs[:len(h.rs)-1]
	return r
}

// isInventoryErr reports whether err is the inventory's own failure.
func isInventoryErr(err error) bool {
	var ie *inventoryError
	return errors.As(err, &ie)
}
