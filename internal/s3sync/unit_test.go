package s3sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/partition"
)

func TestCopySource(t *testing.T) {
	for key, want := range map[string]string{
		"a/b.jpg":           "bkt/a/b.jpg",
		"a b+c&d=e%f/x.png": "bkt/a%20b%2Bc%26d%3De%25f/x.png",
		"café ☕.jpg":        "bkt/caf%C3%A9%20%E2%98%95.jpg",
		"日本/ファイル":           "bkt/%E6%97%A5%E6%9C%AC/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB",
		"~tilde_-.ok":       "bkt/~tilde_-.ok",
		"q?x#y":             "bkt/q%3Fx%23y",
	} {
		got := copySource("bkt", key)
		if got != want {
			t.Errorf("copySource(%q) = %q, want %q", key, got, want)
		}
		if dec, _ := url.PathUnescape(got); dec != "bkt/"+key {
			t.Errorf("%q does not decode back: %q", got, dec)
		}
	}
}

func TestPartsOf(t *testing.T) {
	for etag, want := range map[string]int{
		`"d41d8cd98f00b204e9800998ecf8427e"`:   0,
		`"c1331e1900a3daf10ee18da08b721a94-3"`: 3,
		`"abc-1"`:                              1,
		`"abc-x"`:                              0,
		`"abc-0"`:                              0,
		"":                                     0,
	} {
		if got := partsOf(etag); got != want {
			t.Errorf("partsOf(%s) = %d, want %d", etag, got, want)
		}
	}
}

func TestLayouts(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		size  int64
		n     int
		first int64
		want  string
	}{
		{6*mib + 123, 2, 5 * mib, fmt.Sprint([]int64{5 * mib, mib + 123})},
		{10 * mib, 2, 5 * mib, fmt.Sprint([]int64{5 * mib, 5 * mib})},
		{11*mib + 1024, 3, 5 * mib, fmt.Sprint([]int64{5 * mib, 5 * mib, mib + 1024})}, // plausible, possibly wrong: the ETag tells
		{16 * mib, 3, 5 * mib, "[]"},                                                   // last part would exceed the first
		{10 * mib, 3, 5 * mib, "[]"},                                                   // last part would be empty
		{5 * mib, 1, 5 * mib, fmt.Sprint([]int64{5 * mib})},
		{1, 0, 1, "[]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(uniformLayout(c.size, c.n, c.first)); got != c.want {
			t.Errorf("uniformLayout(%d, %d, %d) = %s, want %s", c.size, c.n, c.first, got, c.want)
		}
	}
	parts := evenLayout(6<<30 + 1)
	var total int64
	for _, p := range parts {
		total += p
	}
	if total != 6<<30+1 || len(parts) != 97 || parts[0] != 64<<20 {
		t.Fatalf("evenLayout: %d parts, total %d", len(parts), total)
	}
}

func TestDiffers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &object{Key: "k", Size: 3, ETag: `"x"`, LastModified: t0}
	for _, c := range []struct {
		mode string
		b    object
		want string
	}{
		{CompareETag, object{Size: 3, ETag: `"x"`, LastModified: t0.Add(-time.Hour)}, ""},
		{CompareETag, object{Size: 3, ETag: `"y"`, LastModified: t0.Add(time.Hour)}, "etag"},
		{CompareETag, object{Size: 4, ETag: `"x"`}, "size 3 != 4"},
		{CompareModified, object{Size: 3, ETag: `"y"`, LastModified: t0.Add(time.Second)}, ""},
		{CompareModified, object{Size: 3, ETag: `"x"`, LastModified: t0.Add(-time.Second)}, "source modified"},
	} {
		got := differs(c.mode, a, &c.b)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("differs(%s, %+v) = %q, want %q", c.mode, c.b, got, c.want)
		}
	}
}

// fed returns a listing already holding pages and ending with err.
func fed(err error, pages ...[]string) *listing {
	l := &listing{bucket: "b", region: "r", ch: make(chan []object, len(pages)), err: err}
	for _, p := range pages {
		var objs []object
		for _, k := range p {
			objs = append(objs, object{Key: k})
		}
		l.ch <- objs
	}
	close(l.ch)
	return l
}

func TestMerge(t *testing.T) {
	var got []string
	err := merge(newCursor(fed(nil, []string{"a", "c"}, []string{"d", "é"})), newCursor(fed(nil, []string{"b", "c"}, []string{"z"})),
		func(s, d *object) error {
			switch {
			case d == nil:
				got = append(got, "+"+s.Key)
			case s == nil:
				got = append(got, "-"+d.Key)
			default:
				got = append(got, "="+s.Key)
			}
			return nil
		})
	// UTF-8 byte order: "é" (0xC3…) sorts after "z".
	if err != nil || strings.Join(got, " ") != "+a -b =c +d -z +é" {
		t.Fatalf("merge: %v %v", got, err)
	}
}

// A listing that breaks off must fail the merge, never read as a bucket
// that ends there: sync --delete would delete the replica's remainder.
func TestMergeFailsOnBrokenListing(t *testing.T) {
	boom := errors.New("list bucket b: r: connection reset")
	var extra []string
	err := merge(newCursor(fed(boom, []string{"a"})), newCursor(fed(nil, []string{"a", "b", "c"})), func(s, d *object) error {
		if s == nil {
			extra = append(extra, d.Key)
		}
		return nil
	})
	if !errors.Is(err, boom) || len(extra) != 0 {
		t.Fatalf("merge over a broken listing: err=%v, extras seen=%v", err, extra)
	}
	err = merge(newCursor(fed(nil, []string{"b", "a"})), newCursor(fed(nil)), func(*object, *object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("unsorted listing: %v", err)
	}
}

func TestPolicies(t *testing.T) {
	cn, _ := partition.ByID("aws-cn")
	var trust policyDoc
	if err := json.Unmarshal([]byte(trustPolicy()), &trust); err != nil || trust.Statement[0].Principal["Service"] != "s3.amazonaws.com" {
		t.Fatalf("trust policy: %s", trustPolicy())
	}
	pol := replicationPolicy(cn, policyInput{
		Source: "src", Replica: "dst", SourceRegion: "cn-northwest-1", ReplicaRegion: "cn-north-1",
		SourceKMS: true, SourceKeyARN: "arn:aws-cn:kms:cn-northwest-1:111122223333:key/a",
		ReplicaKeyARN: "arn:aws-cn:kms:cn-north-1:111122223333:key/b",
	})
	for _, want := range []string{
		`"arn:aws-cn:s3:::src"`, `"arn:aws-cn:s3:::src/*"`, `"arn:aws-cn:s3:::dst/*"`,
		`"s3.cn-northwest-1.amazonaws.com.cn"`, `"s3.cn-north-1.amazonaws.com.cn"`, `"kms:Decrypt"`, `"kms:Encrypt"`,
	} {
		if !strings.Contains(pol, want) {
			t.Errorf("policy lacks %s: %s", want, pol)
		}
	}
	for _, bad := range []string{`"*"`, `arn:aws:`, `s3:ReplicateDelete`, `s3:*`} {
		if strings.Contains(pol, bad) {
			t.Errorf("policy has %s: %s", bad, pol)
		}
	}
	aws1, _ := partition.ByID("aws")
	withDeletes := replicationPolicy(aws1, policyInput{Source: "src", Replica: "dst", DeleteMarkers: true})
	if !strings.Contains(withDeletes, "s3:ReplicateDelete") || strings.Contains(withDeletes, "kms:") || !strings.Contains(withDeletes, `"arn:aws:s3:::dst/*"`) {
		t.Errorf("policy with delete markers: %s", withDeletes)
	}
	if !samePolicy(url.PathEscape(pol), pol) || samePolicy(pol, withDeletes) {
		t.Error("samePolicy")
	}
}

// With S3 Bucket Keys S3 asks KMS with the bucket's ARN as encryption
// context, without them with the object's: the replication role allows both
// on both sides, or every SSE-KMS replication fails once Bucket Keys are on.
func TestPolicyAllowsBucketKeyContext(t *testing.T) {
	aws1, _ := partition.ByID("aws")
	var doc struct {
		Statement []struct {
			Sid       string
			Condition map[string]map[string]any
		}
	}
	pol := replicationPolicy(aws1, policyInput{
		Source: "src", Replica: "dst", SourceRegion: "us-east-1", ReplicaRegion: "us-west-2",
		SourceKMS: true, ReplicaKeyARN: "arn:aws:kms:us-west-2:111122223333:key/b",
	})
	if err := json.Unmarshal([]byte(pol), &doc); err != nil {
		t.Fatalf("%v: %s", err, pol)
	}
	want := map[string]string{"DecryptSource": "[arn:aws:s3:::src arn:aws:s3:::src/*]", "EncryptReplica": "[arn:aws:s3:::dst arn:aws:s3:::dst/*]"}
	for _, st := range doc.Statement {
		w, ok := want[st.Sid]
		if !ok {
			continue
		}
		delete(want, st.Sid)
		if got := fmt.Sprint(st.Condition["StringLike"]["kms:EncryptionContext:aws:s3:arn"]); got != w {
			t.Errorf("%s: encryption context %s, want %s", st.Sid, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("policy lacks %v: %s", want, pol)
	}
}

func TestRuleNormalisation(t *testing.T) {
	want := types.ReplicationRule{
		ID: aws.String("pilotlight-media"), Status: types.ReplicationRuleStatusEnabled, Priority: aws.Int32(1),
		Filter:                  &types.ReplicationRuleFilter{Prefix: aws.String("")},
		DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusDisabled},
		Destination:             &types.Destination{Bucket: aws.String("arn:aws-cn:s3:::dst"), StorageClass: types.StorageClassStandard},
	}
	// The same rule as S3 may hand it back: no filter, no delete-marker
	// element, no storage class, no priority.
	have := types.ReplicationRule{
		ID: aws.String("pilotlight-media"), Status: types.ReplicationRuleStatusEnabled,
		Destination: &types.Destination{Bucket: aws.String("arn:aws-cn:s3:::dst")},
	}
	if !sameRule(have, want) {
		t.Fatalf("%+v != %+v", ruleViewOf(have), ruleViewOf(want))
	}
	have.Destination.StorageClass = types.StorageClassStandardIa
	if sameRule(have, want) {
		t.Fatal("storage class change not seen")
	}
}

func TestProgressLine(t *testing.T) {
	st := &syncStats{}
	st.listed.Store(100)
	st.queued.Store(10)
	st.queuedBytes.Store(10 << 20)
	st.copied.Store(5)
	st.bytes.Store(5 << 20)
	if l := progressLine(st, 5*time.Second); !strings.Contains(l, "copied 5/10 objects, 5.0 MiB") || !strings.Contains(l, "listing") {
		t.Fatal(l)
	}
	st.listingDone.Store(true)
	if l := progressLine(st, 5*time.Second); !strings.Contains(l, "ETA 5s") {
		t.Fatal(l)
	}
}
