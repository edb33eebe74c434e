package s3sync

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// moto stores a replication rule but never replicates, and reports no
// ReplicationStatus: every test here stands in for CRR with Sync, and says
// where it does.

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// fixture is one isolated moto account with a config for one bucket pair.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	url      string
	env      *awsenv.Env
	cfg      *spec.Config
	b        spec.Bucket
	src, dst *s3.Client
}

const testConfig = `stack: wordpress
primary: { region: %PRIMARY% }
dr:      { region: %DR% }
protect:
  buckets:
    - name: media
      source: wp-media-prod-%ID%
      replica: wp-media-dr-%ID%
      create_replica: true
      storage_class: STANDARD_IA
      delete_markers: true
`

func newFixture(t *testing.T, primary, dr string) *fixture {
	t.Helper()
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	return newFixtureAt(t, acct.URL, primary, dr)
}

func newFixtureAt(t *testing.T, url, primary, dr string) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	src := bytes.ReplaceAll([]byte(testConfig), []byte("%PRIMARY%"), []byte(primary))
	src = bytes.ReplaceAll(src, []byte("%DR%"), []byte(dr))
	// moto's bucket names are global across its accounts, as on AWS.
	src = bytes.ReplaceAll(src, []byte("%ID%"), []byte(testenv.RandomAccountID()))
	if err := os.WriteFile(p, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.AWS(t, url)
	return &fixture{
		t: t, ctx: ctx, url: url, env: env, cfg: cfg, b: cfg.Protect.Buckets[0],
		src: newS3(env, primary, 0), dst: newS3(env, dr, 0),
	}
}

func (f *fixture) createBucket(api *s3.Client, bucket, region string) {
	f.t.Helper()
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	if _, err := api.CreateBucket(f.ctx, in); err != nil {
		f.t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

func (f *fixture) put(key string, body []byte, mutate ...func(*s3.PutObjectInput)) {
	f.t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(f.b.Source), Key: aws.String(key), Body: bytes.NewReader(body)}
	for _, m := range mutate {
		m(in)
	}
	if _, err := f.src.PutObject(f.ctx, in); err != nil {
		f.t.Fatalf("put %s: %v", key, err)
	}
}

// putMultipart uploads body in parts of the given sizes.
func (f *fixture) putMultipart(key string, body []byte, sizes []int, meta map[string]string, tagging string) {
	f.t.Helper()
	up, err := f.src.CreateMultipartUpload(f.ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(f.b.Source), Key: aws.String(key), ContentType: aws.String("video/mp4"),
		CacheControl: aws.String("max-age=600"), Metadata: meta, Tagging: aws.String(tagging),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var parts []types.CompletedPart
	off := 0
	for i, n := range sizes {
		out, err := f.src.UploadPart(f.ctx, &s3.UploadPartInput{
			Bucket: aws.String(f.b.Source), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body[off : off+n]),
		})
		if err != nil {
			f.t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		off += n
	}
	if _, err := f.src.CompleteMultipartUpload(f.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(f.b.Source), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		f.t.Fatal(err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (f *fixture) get(api *s3.Client, bucket, key string) []byte {
	f.t.Helper()
	out, err := api.GetObject(f.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		f.t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}
