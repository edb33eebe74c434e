package s3sync

import (
	"bytes"
	"context"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fileSpec is one source object of the round-trip test.
type fileSpec struct {
	key     string
	body    []byte
	parts   []int // multipart part sizes; nil for one PUT
	ctype   string
	cache   string
	meta    map[string]string
	tagging string
}

func roundTripFiles() (before, after []fileSpec) {
	const mib = 1 << 20
	before = []fileSpec{
		{key: "index.html", body: []byte("<h1>hello</h1>"), ctype: "text/html", cache: "max-age=60",
			meta: map[string]string{"author": "alice", "post-id": "42"}, tagging: "kind=page&tier=hot"},
		{key: "empty.txt", body: []byte{}, ctype: "text/plain"},
		{key: "wp-content/uploads/2024/01/café ☕.jpg", body: randomBytes(3000), ctype: "image/jpeg", tagging: "lang=fr"},
		{key: "wp-content/uploads/a b+c&d=e%f/x.png", body: randomBytes(1234), ctype: "image/png"},
		{key: "wp-content/uploads/日本語/ファイル.png", body: randomBytes(777), ctype: "image/png"},
		// Two parts in the usual layout: equal parts, a shorter last one.
		{key: "video/big.mp4", body: randomBytes(6*mib + 123), parts: []int{5 * mib, mib + 123},
			meta: map[string]string{"duration": "93s"}, tagging: "kind=video"},
		// A layout no uploader makes (a larger middle part): the copy must
		// find it out part by part to keep the ETag.
		{key: "video/odd.mp4", body: randomBytes(11*mib + 1024), parts: []int{5 * mib, 6 * mib, 1024}},
	}
	after = []fileSpec{
		{key: "after/style.css", body: []byte("body{}"), ctype: "text/css", cache: "public, max-age=31536000",
			meta: map[string]string{"build": "7"}, tagging: "kind=asset"},
		{key: "after/nested/deep/key.txt", body: []byte("deep")},
	}
	return before, after
}

func (f *fixture) putFile(fs fileSpec) {
	f.t.Helper()
	if fs.parts != nil {
		f.putMultipart(fs.key, fs.body, fs.parts, fs.meta, fs.tagging)
		return
	}
	f.put(fs.key, fs.body, func(in *s3.PutObjectInput) {
		if fs.ctype != "" {
			in.ContentType = aws.String(fs.ctype)
		}
		if fs.cache != "" {
			in.CacheControl = aws.String(fs.cache)
		}
		in.Metadata = fs.meta
		if fs.tagging != "" {
			in.Tagging = aws.String(fs.tagging)
		}
	})
}

// assertReplica checks one key byte for byte and header for header.
func (f *fixture) assertReplica(key, storageClass string) {
	f.t.Helper()
	if a, b := f.get(f.src, f.b.Source, key), f.get(f.dst, f.b.Replica, key); !bytes.Equal(a, b) {
		f.t.Errorf("%s: replica bytes differ (%d vs %d bytes)", key, len(a), len(b))
	}
	hs, err := f.src.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Source), Key: aws.String(key)})
	if err != nil {
		f.t.Fatal(err)
	}
	hd, err := f.dst.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Replica), Key: aws.String(key)})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range []struct{ what, a, b string }{
		{"etag", aws.ToString(hs.ETag), aws.ToString(hd.ETag)},
		{"content-type", aws.ToString(hs.ContentType), aws.ToString(hd.ContentType)},
		{"cache-control", aws.ToString(hs.CacheControl), aws.ToString(hd.CacheControl)},
		{"metadata", mapString(hs.Metadata), mapString(hd.Metadata)},
		{"tags", f.tags(f.src, f.b.Source, key), f.tags(f.dst, f.b.Replica, key)},
	} {
		if c.a != c.b {
			f.t.Errorf("%s: %s %q on the source, %q on the replica", key, c.what, c.a, c.b)
		}
	}
	if string(hd.StorageClass) != storageClass {
		f.t.Errorf("%s: replica storage class %q, want %q", key, hd.StorageClass, storageClass)
	}
}

func (f *fixture) tags(api *s3.Client, bucket, key string) string {
	out, err := api.GetObjectTagging(f.ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]string{}
	for _, t := range out.TagSet {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return mapString(m)
}

func mapString(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k + "=" + m[k] + ";")
	}
	return b.String()
}

// TestRoundTrip is the acceptance scenario in both China directions:
// objects written before and after setup, back-filled by sync (moto never
// replicates, so sync stands in for CRR too), verified, one changed,
// verified again and fixed by a second sync that copies only that one.
func TestRoundTrip(t *testing.T) {
	for _, dir := range [][2]string{{"cn-northwest-1", "cn-north-1"}, {"cn-north-1", "cn-northwest-1"}} {
		t.Run(dir[0]+"_to_"+dir[1], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, dir[0], dir[1])
			f.createBucket(f.src, f.b.Source, dir[0])
			before, after := roundTripFiles()
			for _, fs := range before {
				f.putFile(fs)
			}
			res, err := Setup(f.ctx, f.env, f.cfg, f.b, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Unchanged || !strings.HasPrefix(res.RoleARN, "arn:aws-cn:iam::") || !strings.HasSuffix(res.RoleARN, ":role/wordpress-s3-replication") {
				t.Fatalf("setup: %+v", res)
			}
			for _, fs := range after {
				f.putFile(fs)
			}
			all := append(before, after...)

			v, err := Verify(f.ctx, f.env, f.cfg, f.b)
			if err != nil {
				t.Fatal(err)
			}
			if v.Converged || v.MissingCount != int64(len(all)) || v.StatusChecked != int64(len(all)) {
				t.Fatalf("verify before sync: %+v", v)
			}

			s, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{Workers: 4})
			if err != nil {
				t.Fatalf("sync: %v (%+v)", err, s)
			}
			if s.Copied != int64(len(all)) || s.Skipped != 0 || s.Failed != 0 || s.Listed != int64(len(all)) {
				t.Fatalf("first sync: %+v", s)
			}
			for _, fs := range all {
				f.assertReplica(fs.key, "STANDARD_IA")
			}

			v, err = Verify(f.ctx, f.env, f.cfg, f.b)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Converged || v.SourceObjects != int64(len(all)) || v.ReplicaObjects != int64(len(all)) || v.Compared != CompareETag {
				t.Fatalf("verify after sync: %+v", v)
			}

			changed := "wp-content/uploads/2024/01/café ☕.jpg"
			f.put(changed, randomBytes(3000), func(in *s3.PutObjectInput) { in.ContentType = aws.String("image/jpeg") })
			v, err = Verify(f.ctx, f.env, f.cfg, f.b)
			if err != nil {
				t.Fatal(err)
			}
			if v.Converged || v.DifferentCount != 1 || v.Different[0].Key != changed || !strings.Contains(v.Different[0].Why, "etag") {
				t.Fatalf("verify after a change: %+v", v)
			}

			s, err = Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Copied != 1 || s.Skipped != int64(len(all)-1) {
				t.Fatalf("second sync copied %d, skipped %d; want 1 and %d", s.Copied, s.Skipped, len(all)-1)
			}
			f.assertReplica(changed, "STANDARD_IA")
			if v, err = Verify(f.ctx, f.env, f.cfg, f.b); err != nil || !v.Converged {
				t.Fatalf("verify after second sync: %+v %v", v, err)
			}
		})
	}
}

// faithfulReplication stands in for AWS where moto falls short: moto keeps
// a replication rule but always reads DeleteMarkerReplication back as
// Disabled, so a rule with delete markers would look changed on every run.
// AWS returns what was put; this wrapper does the same.
type faithfulReplication struct {
	bucketAPI
	stored *types.ReplicationConfiguration
}

func (w *faithfulReplication) PutBucketReplication(ctx context.Context, in *s3.PutBucketReplicationInput, opts ...func(*s3.Options)) (*s3.PutBucketReplicationOutput, error) {
	out, err := w.bucketAPI.PutBucketReplication(ctx, in, opts...)
	if err == nil {
		w.stored = in.ReplicationConfiguration
	}
	return out, err
}

func (w *faithfulReplication) GetBucketReplication(ctx context.Context, in *s3.GetBucketReplicationInput, opts ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error) {
	out, err := w.bucketAPI.GetBucketReplication(ctx, in, opts...)
	if err == nil && w.stored != nil {
		out.ReplicationConfiguration = w.stored
	}
	return out, err
}

func TestSetupIdempotentAndDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "cn-northwest-1", "cn-north-1")
	f.createBucket(f.src, f.b.Source, "cn-northwest-1")
	f.b.RTC = true
	deps := newSetupDeps(f.env, f.cfg)
	deps.src = &faithfulReplication{bucketAPI: deps.src}

	dry, err := runSetup(f.ctx, deps, f.cfg, f.b, true)
	if err != nil {
		t.Fatal(err)
	}
	// Six changes for replication, two for the batch role (batch_test.go).
	if dry.Unchanged || len(dry.Changed) != 8 || !strings.HasPrefix(dry.Changed[0], "would create replica bucket "+f.b.Replica+" in cn-north-1") {
		t.Fatalf("dry run: %q", dry.Changed)
	}
	if _, err := f.dst.HeadBucket(f.ctx, &s3.HeadBucketInput{Bucket: aws.String(f.b.Replica)}); !notFound(err) {
		t.Fatalf("dry run created the replica bucket: %v", err)
	}

	first, err := runSetup(f.ctx, deps, f.cfg, f.b, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Changed) != 8 || first.RoleARN != dry.RoleARN || first.BatchRoleARN != dry.BatchRoleARN {
		t.Fatalf("first run: %+v (dry run said role %s)", first, dry.RoleARN)
	}
	// H4: the replication role is made with the stack's boundary.
	role, err := iam.NewFromConfig(f.env.For("cn-northwest-1")).GetRole(f.ctx, &iam.GetRoleInput{RoleName: aws.String(RoleName(f.cfg.Stack))})
	if err != nil || role.Role.PermissionsBoundary == nil ||
		!strings.HasSuffix(aws.ToString(role.Role.PermissionsBoundary.PermissionsBoundaryArn), ":policy/"+f.cfg.Stack+"-pilotlight-boundary") {
		t.Fatalf("replication role without the permissions boundary: %+v %v", role, err)
	}
	for i := 0; i < 2; i++ {
		again, err := runSetup(f.ctx, deps, f.cfg, f.b, i == 1)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Unchanged || len(again.Changed) != 0 || again.RoleARN != first.RoleARN {
			t.Fatalf("run %d after setup changed %q", i+2, again.Changed)
		}
	}

	// What was put: both buckets versioned, the rule, the role and policy.
	for _, x := range []struct {
		api    *s3.Client
		bucket string
	}{{f.src, f.b.Source}, {f.dst, f.b.Replica}} {
		v, err := x.api.GetBucketVersioning(f.ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(x.bucket)})
		if err != nil || v.Status != types.BucketVersioningStatusEnabled {
			t.Fatalf("versioning of %s: %v %v", x.bucket, v, err)
		}
	}
	tg, err := f.dst.GetBucketTagging(f.ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(f.b.Replica)})
	if err != nil || len(tg.TagSet) != 3 {
		t.Fatalf("replica bucket tags: %v %v", tg, err)
	}
	rep, err := f.src.GetBucketReplication(f.ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(f.b.Source)})
	if err != nil {
		t.Fatal(err)
	}
	v := ruleViewOf(rep.ReplicationConfiguration.Rules[0])
	if aws.ToString(rep.ReplicationConfiguration.Role) != first.RoleARN || v.dest != "arn:aws-cn:s3:::"+f.b.Replica ||
		v.storageClass != "STANDARD_IA" || !v.rtc || !v.metrics || v.id != "pilotlight-media" {
		t.Fatalf("rule on moto: %+v", v)
	}
}
