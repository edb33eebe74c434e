package s3sync

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/state"
)

// moto stores inventory configurations but never delivers an inventory:
// these tests write one themselves, as S3 Inventory would (manifest.json
// under <prefix>/<source>/<config>/<YYYY-MM-DDTHH-MMZ>/, gzipped CSV data
// files under data/, keys URL-encoded, ETags unquoted), from a real listing
// of the moto source bucket at the inventory's date.

// countingS3 counts the listings of each bucket, to show the source was
// read from its inventory, not listed.
type countingS3 struct {
	*s3.Client
	mu    sync.Mutex
	lists map[string]int
}

func (c *countingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.mu.Lock()
	c.lists[aws.ToString(in.Bucket)]++
	c.mu.Unlock()
	return c.Client.ListObjectsV2(ctx, in, optFns...)
}

func (c *countingS3) listed(bucket string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[bucket]
}

// invRow is one line of the inventory: an object version.
type invRow struct {
	object
	latest bool
}

// deliverInventory configures an inventory of the source bucket and writes
// a delivery dated date, listing rows, spread over files data files so
// that each file is in key order but their key ranges overlap.
func (f *fixture) deliverInventory(dest, prefix, id string, date time.Time, rows []invRow, files int, corrupt bool) string {
	f.t.Helper()
	if _, err := f.src.PutBucketInventoryConfiguration(f.ctx, &s3.PutBucketInventoryConfigurationInput{
		Bucket: aws.String(f.b.Source), Id: aws.String(id),
		InventoryConfiguration: &types.InventoryConfiguration{
			Id: aws.String(id), IsEnabled: aws.Bool(true), IncludedObjectVersions: types.InventoryIncludedObjectVersionsAll,
			Schedule: &types.InventorySchedule{Frequency: types.InventoryFrequencyDaily},
			Destination: &types.InventoryDestination{S3BucketDestination: &types.InventoryS3BucketDestination{
				Bucket: aws.String("arn:aws:s3:::" + dest), Format: types.InventoryFormatCsv, Prefix: aws.String(prefix),
			}},
			OptionalFields: []types.InventoryOptionalField{"Size", "LastModifiedDate", "ETag", "StorageClass"},
		},
	}); err != nil {
		f.t.Fatalf("put inventory configuration: %v", err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	base := prefix + "/" + f.b.Source + "/" + id + "/"
	bufs := make([]*bytes.Buffer, files)
	ws := make([]*csv.Writer, files)
	zs := make([]*gzip.Writer, files)
	for i := range bufs {
		bufs[i] = &bytes.Buffer{}
		zs[i] = gzip.NewWriter(bufs[i])
		ws[i] = csv.NewWriter(zs[i])
		ws[i].UseCRLF = false
	}
	for i, r := range rows {
		w := ws[i%files]
		_ = w.Write([]string{f.b.Source, url.QueryEscape(r.Key), strconv.FormatBool(r.latest), "false",
			strconv.FormatInt(r.Size, 10), r.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			strings.Trim(r.ETag, `"`), "STANDARD"})
	}
	type file struct {
		Key         string `json:"key"`
		Size        int    `json:"size"`
		MD5checksum string `json:"MD5checksum"`
	}
	var listed []file
	for i := range bufs {
		ws[i].Flush()
		_ = zs[i].Close()
		body := bufs[i].Bytes()
		if corrupt && i == files-1 {
			body = []byte("not gzip at all")
		}
		key := fmt.Sprintf("%sdata/%08x-%d.csv.gz", base, date.Unix(), i)
		f.putTo(dest, key, body)
		listed = append(listed, file{Key: key, Size: len(body), MD5checksum: "-"})
	}
	manifest, _ := json.Marshal(map[string]any{
		"sourceBucket": f.b.Source, "destinationBucket": "arn:aws:s3:::" + dest, "version": "2016-11-30",
		"creationTimestamp": strconv.FormatInt(date.UnixMilli(), 10), "fileFormat": "CSV",
		"fileSchema": "Bucket, Key, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass",
		"files":      listed,
	})
	mkey := base + date.UTC().Format(manifestTimeLayout) + "/manifest.json"
	f.putTo(dest, mkey, manifest)
	return mkey
}

func (f *fixture) putTo(bucket, key string, body []byte) {
	f.t.Helper()
	if _, err := f.src.PutObject(f.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		f.t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// listed returns the source's objects as a listing gives them.
func (f *fixture) listed(bucket string) []invRow {
	f.t.Helper()
	var rows []invRow
	p := s3.NewListObjectsV2Paginator(f.src, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		out, err := p.NextPage(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, o := range out.Contents {
			rows = append(rows, invRow{object: object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified)}, latest: true})
		}
	}
	return rows
}

// invSetup is a source with an inventory, a replica, and what happened to
// both after the inventory was taken.
type invSetup struct {
	f       *fixture
	p       syncPlan
	src     *countingS3
	date    time.Time
	missing int // keys the replica lacks that the source still has
}

func newInvSetup(t *testing.T, corrupt bool) *invSetup {
	f := newFixture(t, "us-east-1", "us-west-2")
	f.createBucket(f.src, f.b.Source, "us-east-1")
	f.createBucket(f.dst, f.b.Replica, "us-west-2")
	dest := "inv-" + f.b.Source
	f.createBucket(f.src, dest, "us-east-1")
	keys := f.putMany(90)
	// Keys with characters a CSV inventory URL-encodes.
	for _, k := range []string{"wp-content/uploads/2026/01/a b+c.jpg", "wp-content/uploads/2026/01/é%.jpg"} {
		f.put(k, []byte(k))
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The replica lacks every ninth key and has one of its own.
	lacks := map[string]bool{}
	for i, k := range keys {
		if i%9 == 0 {
			lacks[k] = true
			continue
		}
		if _, err := f.dst.CopyObject(f.ctx, &s3.CopyObjectInput{
			Bucket: aws.String(f.b.Replica), Key: aws.String(k), CopySource: aws.String(copySource(f.b.Source, k)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.dst.PutObject(f.ctx, &s3.PutObjectInput{Bucket: aws.String(f.b.Replica), Key: aws.String("zz-old-extra"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}

	// The inventory is taken now: moto stamps objects to the second, so it
	// is dated at the end of the newest stamp so far.
	rows := f.listed(f.b.Source)
	var date time.Time
	for _, r := range f.listed(f.b.Replica) {
		date = maxTime(date, r.LastModified)
	}
	for _, r := range rows {
		date = maxTime(date, r.LastModified)
	}
	date = date.Add(time.Second - time.Millisecond)
	// An older version of one key, as an inventory of all versions lists it.
	old := rows[3]
	old.latest, old.Size, old.ETag = false, 1, `"0123"`
	rows = append(rows, old)
	f.deliverInventory(dest, "inventories", "daily-all", date, rows, 3, corrupt)
	// An older delivery whose manifest is gone (a lifecycle rule) is skipped
	// in favour of the newest; one still being written (no manifest) too.
	f.putTo(dest, "inventories/"+f.b.Source+"/daily-all/"+date.Add(24*time.Hour).UTC().Format(manifestTimeLayout)+"/manifest.checksum", []byte("-"))

	// After the inventory: a new key replicated (not judged, not extra), a
	// key overwritten and replicated (not judged, not different), and a key
	// the replica lacks deleted from the source (gone, not missing). moto's
	// stamps are whole seconds: write until the stamp passes the date.
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		f.put("zz-new-after-inventory", []byte("new"))
		h, err := f.src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Source), Key: aws.String("zz-new-after-inventory")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToTime(h.LastModified).After(date) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("moto's clock never passed the inventory's date")
		case <-time.After(wait):
		}
	}
	changed := keys[4]
	f.put(changed, []byte("rewritten after the inventory"))
	for _, k := range []string{"zz-new-after-inventory", changed} {
		if _, err := f.dst.CopyObject(f.ctx, &s3.CopyObjectInput{
			Bucket: aws.String(f.b.Replica), Key: aws.String(k), CopySource: aws.String(copySource(f.b.Source, k)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.src.DeleteObject(f.ctx, &s3.DeleteObjectInput{Bucket: aws.String(f.b.Source), Key: aws.String(keys[9])}); err != nil {
		t.Fatal(err)
	}
	p, err := resolveSync(f.cfg, f.b, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &invSetup{f: f, p: p, src: &countingS3{Client: f.src, lists: map[string]int{}}, date: date, missing: len(lacks) - 1}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// With an S3 Inventory configured, verify reads its newest delivery instead
// of listing the source, says so and of when, and does not judge what
// changed after it.
func TestVerifyReadsInventory(t *testing.T) {
	t.Parallel()
	s := newInvSetup(t, false)
	f := s.f
	res, err := runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.src.listed(f.b.Source); n != 0 {
		t.Fatalf("verify listed the source %d times though it has an inventory", n)
	}
	if res.Inventory == nil || !strings.HasPrefix(res.SourceRead, ReadInventory) || !res.Inventory.Date.Equal(s.date) || res.Inventory.ConfigID != "daily-all" {
		t.Fatalf("source read %q, inventory %+v, want daily-all of %s", res.SourceRead, res.Inventory, s.date)
	}
	if !strings.Contains(res.SourceRead, s.date.UTC().Format(time.RFC3339)) {
		t.Fatalf("source read %q does not give the inventory's date", res.SourceRead)
	}
	want := fmt.Sprintf("source %d, missing %d, gone 1, extra 1 [zz-old-extra], different 0, not judged 2", 92, s.missing)
	got := fmt.Sprintf("source %d, missing %d, gone %d, extra %d %v, different %d, not judged %d",
		res.SourceObjects, res.MissingCount, res.Gone, res.ExtraCount, res.Extra, res.DifferentCount, res.NotJudged)
	if got != want || len(res.Missing) != int(res.MissingCount) {
		t.Fatalf("inventory verify:\n got %s (%v)\nwant %s", got, res.Missing, want)
	}

	// Listing instead, when asked: the source is listed and nothing is
	// left unjudged.
	listed, err := runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{SourceList: SourceListListing})
	if err != nil || s.src.listed(f.b.Source) == 0 || listed.Inventory != nil || listed.NotJudged != 0 || !strings.HasPrefix(listed.SourceRead, ReadListing) {
		t.Fatalf("listing verify: %+v %v", listed, err)
	}
	if listed.MissingCount != int64(s.missing) || listed.ExtraCount != 1 {
		t.Fatalf("listing verify: %d missing, %d extra; want %d, 1", listed.MissingCount, listed.ExtraCount, s.missing)
	}
}

// An inventory verify out of time checkpoints and resumes like a listing
// one, from the same inventory, and adds up to the one-pass result.
func TestVerifyInventoryResumes(t *testing.T) {
	t.Parallel()
	s := newInvSetup(t, false)
	f := s.f
	whole, err := runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{})
	if err != nil || whole.Inventory == nil {
		t.Fatalf("one pass: %+v %v", whole, err)
	}
	store, err := state.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var res *VerifyResult
	for pass := 1; ; pass++ {
		if pass > 20 {
			t.Fatal("verify never completed")
		}
		// The clock starts now: an inventory's age is judged by it.
		clock := &steppingClock{t: time.Now(), step: time.Millisecond}
		res, err = runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{
			Checkpoint: store, Until: clock.t.Add(30 * time.Millisecond), now: clock.now,
		})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if res.Inventory == nil || res.Inventory.Manifest != whole.Inventory.Manifest {
			t.Fatalf("pass %d read %q, not the inventory", pass, res.SourceRead)
		}
		if res.Complete {
			break
		}
	}
	if res.Passes < 3 {
		t.Fatalf("verify of ~95 keys finished in %d passes of about 30 keys", res.Passes)
	}
	if n := s.src.listed(f.b.Source); n != 0 {
		t.Fatalf("a resumed inventory verify listed the source %d times", n)
	}
	field := func(r *VerifyResult) string {
		return fmt.Sprint(r.SourceObjects, r.ReplicaObjects, r.MissingCount, r.ExtraCount, r.DifferentCount, r.NotJudged, r.Gone, r.Missing, r.Extra)
	}
	if field(res) != field(whole) {
		t.Fatalf("resumed over %d passes:\n got %s\nwant %s", res.Passes, field(res), field(whole))
	}
}

// A data file that cannot be read makes verify list the source instead and
// say why; asked for the inventory alone, verify fails without one.
func TestVerifyInventoryFallsBack(t *testing.T) {
	t.Parallel()
	s := newInvSetup(t, true)
	f := s.f
	res, err := runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.SourceRead, ReadListing) || res.Inventory != nil || !strings.Contains(res.InventoryNote, "data file") {
		t.Fatalf("after a bad data file: read %q, note %q", res.SourceRead, res.InventoryNote)
	}
	if res.MissingCount != int64(s.missing) || res.ExtraCount != 1 || s.src.listed(f.b.Source) == 0 {
		t.Fatalf("fallback listing: %d missing, %d extra", res.MissingCount, res.ExtraCount)
	}

	// Disabled (moto has no DeleteBucketInventoryConfiguration).
	if _, err := f.src.PutBucketInventoryConfiguration(f.ctx, &s3.PutBucketInventoryConfigurationInput{
		Bucket: aws.String(f.b.Source), Id: aws.String("daily-all"),
		InventoryConfiguration: &types.InventoryConfiguration{
			Id: aws.String("daily-all"), IsEnabled: aws.Bool(false), IncludedObjectVersions: types.InventoryIncludedObjectVersionsCurrent,
			Schedule: &types.InventorySchedule{Frequency: types.InventoryFrequencyDaily},
			Destination: &types.InventoryDestination{S3BucketDestination: &types.InventoryS3BucketDestination{
				Bucket: aws.String("arn:aws:s3:::inv-" + f.b.Source), Format: types.InventoryFormatCsv,
			}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{SourceList: SourceListInventory}); err == nil || !strings.Contains(err.Error(), "daily-all: disabled") {
		t.Fatalf("inventory required, none enabled: %v", err)
	}
	res, err = runVerify(f.ctx, s.src, f.dst, s.p, false, VerifyOptions{})
	if err != nil || !strings.HasPrefix(res.SourceRead, ReadListing) || !strings.Contains(res.InventoryNote, "daily-all: disabled") {
		t.Fatalf("no enabled inventory: %+v %v", res, err)
	}
}

// Rows of a data file as S3 Inventory writes them: URL-encoded keys,
// unquoted ETags, versions and delete markers in an inventory of all
// versions; keys must ascend within a file.
func TestInventoryRows(t *testing.T) {
	inv := &inventory{bucket: "inv", key: 1, isLatest: 2, deleteMarker: 3, size: 4, modified: 5, etag: 6, class: 7, columns: 8}
	read := func(data, after string) ([]string, error) {
		r := &fileReader{inv: inv, file: "data/x.csv", after: after, csv: csv.NewReader(strings.NewReader(data))}
		r.csv.FieldsPerRecord = inv.columns
		var got []string
		for {
			ok, err := r.advance()
			if err != nil || !ok {
				return got, err
			}
			got = append(got, fmt.Sprintf("%s|%d|%s|%s", r.cur.Key, r.cur.Size, r.cur.ETag, r.cur.StorageClass))
		}
	}
	const rows = `"b","a+b%2Bc.jpg","true","false","3","2026-12-06T01:02:03.000Z","d41d8cd98f00b204e9800998ecf8427e","STANDARD"
"b","old","false","false","9","2026-12-01T01:02:03.000Z","aaaa","STANDARD"
"b","old","true","true","","","",""
"b","video/%C3%A9t%C3%A9.mp4","true","false","70000000","2026-12-06T01:02:03.000Z","0123456789abcdef-9","GLACIER"
`
	got, err := read(rows, "")
	want := []string{`a b+c.jpg|3|"d41d8cd98f00b204e9800998ecf8427e"|STANDARD`, `video/été.mp4|70000000|"0123456789abcdef-9"|GLACIER`}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows:\n got %q %v\nwant %q", got, err, want)
	}
	// Resuming skips what an earlier pass compared.
	if got, err := read(rows, "old"); err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "video/") {
		t.Fatalf("after old: %q %v", got, err)
	}
	for name, bad := range map[string]string{
		"out of order": `"b","z","true","false","1","2026-12-06T01:02:03.000Z","e","STANDARD"` + "\n" + `"b","a","true","false","1","2026-12-06T01:02:03.000Z","e","STANDARD"`,
		"size":         `"b","z","true","false","x","2026-12-06T01:02:03.000Z","e","STANDARD"`,
		"columns":      `"b","z","true"`,
		"key":          `"b","%zz","true","false","1","2026-12-06T01:02:03.000Z","e","STANDARD"`,
	} {
		if _, err := read(bad+"\n", ""); err == nil || !isInventoryErr(err) {
			t.Errorf("%s: %v, want an inventory error", name, err)
		}
	}
}

// fakeInventoryS3 answers the calls findInventory makes from a map of
// configurations, delivery folders and manifests.
type fakeInventoryS3 struct {
	configs   []types.InventoryConfiguration
	folders   map[string][]string // prefix → delivery folders under it
	manifests map[string]string   // key → manifest.json
}

func (f *fakeInventoryS3) ListBucketInventoryConfigurations(_ context.Context, _ *s3.ListBucketInventoryConfigurationsInput, _ ...func(*s3.Options)) (*s3.ListBucketInventoryConfigurationsOutput, error) {
	return &s3.ListBucketInventoryConfigurationsOutput{InventoryConfigurationList: f.configs}, nil
}

func (f *fakeInventoryS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{}
	for _, d := range f.folders[aws.ToString(in.Prefix)] {
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(aws.ToString(in.Prefix) + d + "/")})
	}
	return out, nil
}

func (f *fakeInventoryS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m, ok := f.manifests[aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(m))}, nil
}

// Which inventory verify reads: the newest delivered one among those that
// cover the whole bucket in CSV and are recent enough; why none otherwise.
func TestFindInventory(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	conf := func(id string, format types.InventoryFormat, prefix string, enabled bool) types.InventoryConfiguration {
		c := types.InventoryConfiguration{
			Id: aws.String(id), IsEnabled: aws.Bool(enabled),
			Destination: &types.InventoryDestination{S3BucketDestination: &types.InventoryS3BucketDestination{
				Bucket: aws.String("arn:aws-cn:s3:::inv"), Format: format, Prefix: aws.String("reports/"),
			}},
		}
		if prefix != "" {
			c.Filter = &types.InventoryFilter{Prefix: aws.String(prefix)}
		}
		return c
	}
	manifest := func(date time.Time, schema string) string {
		return fmt.Sprintf(`{"sourceBucket":"media","fileFormat":"CSV","creationTimestamp":"%d","fileSchema":%q,"files":[{"key":"reports/media/x/data/a.csv.gz"}]}`, date.UnixMilli(), schema)
	}
	const schema = "Bucket, Key, Size, LastModifiedDate, ETag"
	day := func(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour).Truncate(time.Minute) }
	folder := func(t time.Time) string { return t.UTC().Format(manifestTimeLayout) }
	api := &fakeInventoryS3{
		configs: []types.InventoryConfiguration{
			conf("parquet", types.InventoryFormatParquet, "", true),
			conf("uploads-only", types.InventoryFormatCsv, "uploads/", true),
			conf("off", types.InventoryFormatCsv, "", false),
			conf("daily", types.InventoryFormatCsv, "", true),
			conf("weekly", types.InventoryFormatCsv, "", true),
		},
		folders: map[string][]string{
			// daily: today's delivery has no manifest yet; yesterday's has.
			"reports/media/daily/":  {folder(day(2)), folder(day(1)), folder(now), "data", "hive"},
			"reports/media/weekly/": {folder(day(3))},
		},
		manifests: map[string]string{
			"reports/media/daily/" + folder(day(2)) + "/manifest.json":  manifest(day(2), schema),
			"reports/media/daily/" + folder(day(1)) + "/manifest.json":  manifest(day(1), schema),
			"reports/media/weekly/" + folder(day(3)) + "/manifest.json": manifest(day(3), schema),
		},
	}
	inv, why, err := findInventory(context.Background(), api, "media", now)
	if err != nil || inv == nil {
		t.Fatalf("no inventory found: %q %v", why, err)
	}
	if inv.info.ConfigID != "daily" || !inv.info.Date.Equal(day(1)) || inv.bucket != "inv" {
		t.Fatalf("read %s of %s in %s, want daily of %s in inv", inv.info.ConfigID, inv.info.Date, inv.bucket, day(1))
	}

	// Nothing usable: every reason is given.
	api.manifests = map[string]string{
		"reports/media/daily/" + folder(day(1)) + "/manifest.json":  manifest(day(1), "Bucket, Key, Size"),
		"reports/media/weekly/" + folder(day(3)) + "/manifest.json": manifest(day(9), schema),
	}
	api.folders["reports/media/weekly/"] = []string{folder(day(9))}
	api.manifests["reports/media/weekly/"+folder(day(9))+"/manifest.json"] = manifest(day(9), schema)
	inv, why, err = findInventory(context.Background(), api, "media", now)
	if err != nil || inv != nil {
		t.Fatalf("found %+v %v, want none", inv, err)
	}
	for _, want := range []string{"parquet: format Parquet", "uploads-only: covers prefix uploads/ only", "off: disabled", "lacks ETag, LastModifiedDate", "weekly: newest inventory is from"} {
		if !strings.Contains(why, want) {
			t.Errorf("why %q lacks %q", why, want)
		}
	}
}
