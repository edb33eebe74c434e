package s3sync

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func (f *fixture) keys(api *s3.Client, bucket string) []string {
	f.t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		out, err := p.NextPage(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

func TestSyncDryRunAndDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "cn-northwest-1", "cn-north-1")
	f.createBucket(f.src, f.b.Source, "cn-northwest-1")
	f.createBucket(f.dst, f.b.Replica, "cn-north-1")
	for _, k := range []string{"a", "b", "c"} {
		f.put(k, []byte("source "+k))
	}
	for _, k := range []string{"a", "old/1", "old/2"} {
		if _, err := f.dst.CopyObject(f.ctx, &s3.CopyObjectInput{
			Bucket: aws.String(f.b.Replica), Key: aws.String(k), CopySource: aws.String(f.b.Source + "/a"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.keys(f.dst, f.b.Replica)

	dry, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{DryRun: true, Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.Copied != 2 || dry.Skipped != 1 || dry.Deleted != 2 || dry.Extra != 2 {
		t.Fatalf("dry run: %+v", dry)
	}
	if got := f.keys(f.dst, f.b.Replica); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("dry run changed the replica: %v -> %v", before, got)
	}

	// Without --delete the extras stay, and verify reports them; they do
	// not block convergence only when deletes are not replicated.
	if _, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := Verify(f.ctx, f.env, f.cfg, f.b)
	if err != nil {
		t.Fatal(err)
	}
	if v.Converged || v.ExtraCount != 2 || fmt.Sprint(v.Extra) != "[old/1 old/2]" || v.MissingCount != 0 {
		t.Fatalf("verify with extras (delete markers replicated): %+v", v)
	}
	noDeletes := f.b
	noDeletes.DeleteMarkers = false
	if v, err := Verify(f.ctx, f.env, f.cfg, noDeletes); err != nil || !v.Converged || !v.ExtraAllowed {
		t.Fatalf("verify with extras (deletes not replicated): %+v %v", v, err)
	}

	res, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.Copied != 0 {
		t.Fatalf("sync --delete: %+v", res)
	}
	if got := f.keys(f.dst, f.b.Replica); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("replica after --delete: %v", got)
	}
	if v, err := Verify(f.ctx, f.env, f.cfg, f.b); err != nil || !v.Converged {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// TestSyncKMS: with SSE-KMS ETags are not content hashes, so keys are
// compared by size and time, and copies are encrypted with the replica key.
func TestSyncKMS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "cn-northwest-1", "cn-north-1")
	f.createBucket(f.src, f.b.Source, "cn-northwest-1")
	f.encryptWithKMS(f.src, f.b.Source, f.newKey("cn-northwest-1"))
	f.b.ReplicaKMSKey = f.newKey("cn-north-1")
	if _, err := Setup(f.ctx, f.env, f.cfg, f.b, false); err != nil {
		t.Fatal(err)
	}
	f.put("secret.txt", []byte("s3cr3t"))
	if _, err := Sync(f.ctx, f.env, f.cfg, f.b, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := f.dst.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: aws.String(f.b.Replica), Key: aws.String("secret.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if h.ServerSideEncryption != "aws:kms" || aws.ToString(h.SSEKMSKeyId) != f.b.ReplicaKMSKey {
		t.Fatalf("replica encryption %s %s, want aws:kms with %s", h.ServerSideEncryption, aws.ToString(h.SSEKMSKeyId), f.b.ReplicaKMSKey)
	}
	v, err := Verify(f.ctx, f.env, f.cfg, f.b)
	if err != nil || !v.Converged || v.Compared != CompareModified {
		t.Fatalf("verify: %+v %v", v, err)
	}
	rep, err := f.src.GetBucketReplication(f.ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(f.b.Source)})
	if err != nil {
		t.Fatal(err)
	}
	if rv := ruleViewOf(rep.ReplicationConfiguration.Rules[0]); rv.replicaKey != f.b.ReplicaKMSKey {
		t.Fatalf("rule replica key %q, want %q", rv.replicaKey, f.b.ReplicaKMSKey)
	}
}

// TestSyncUnderFaults: throttling and 500s on S3 are retried by the SDK;
// the back-fill still converges and reports no failure.
func TestSyncUnderFaults(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	p, err := testenv.NewProxy(acct.URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	f := newFixtureAt(t, p.URL, "cn-northwest-1", "cn-north-1")
	f.createBucket(f.src, f.b.Source, "cn-northwest-1")
	f.createBucket(f.dst, f.b.Replica, "cn-north-1")
	for i := 0; i < 40; i++ {
		f.put(fmt.Sprintf("media/%03d.jpg", i), randomBytes(100+i))
	}
	p.AddRule(testenv.Rule{Match: testenv.Match{Service: "s3", Action: "CopyObject"}, Throttle: 0.15, Fail500: 0.05})
	p.AddRule(testenv.Rule{Match: testenv.Match{Service: "s3", Action: "ListObjectsV2"}, Fail503: 0.2})
	env, err := awsenv.Load(f.ctx, awsenv.Options{
		Endpoint: p.URL, Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		MaxAttempts: 10, MaxBackoff: 20 * time.Millisecond, StandardRetry: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sync(f.ctx, env, f.cfg, f.b, SyncOptions{Workers: 8})
	if err != nil || res.Copied != 40 {
		t.Fatalf("sync under faults: %+v %v", res, err)
	}
	faults := 0
	for _, c := range p.CallsTo(testenv.Match{Service: "s3"}) {
		if c.Fault != "" {
			faults++
		}
	}
	if faults == 0 {
		t.Fatal("no fault was injected")
	}
	if v, err := Verify(f.ctx, env, f.cfg, f.b); err != nil || !v.Converged {
		t.Fatalf("verify: %+v %v", v, err)
	}
}
