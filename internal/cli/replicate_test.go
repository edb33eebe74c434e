package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestReplicateVerbs drives setup, sync and verify through the command
// line against moto. moto never replicates: sync does all the copying.
func TestReplicateVerbs(t *testing.T) {
	moto := testenv.Shared(t).NewAccount(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	id := testenv.RandomAccountID()
	src, dst := "wp-media-prod-"+id, "wp-media-dr-"+id
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr:      { region: cn-north-1 }
protect:
  buckets:
    - name: media
      source: `+src+`
      replica: `+dst+`
      create_replica: true
      storage_class: STANDARD_IA
`)
	envOpts := testenv.Options(moto.URL)
	run := cliRunner(ctx, envOpts, cfgPath)

	env, err := awsenv.Load(ctx, *envOpts)
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(env.For("cn-northwest-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(src),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "cn-northwest-1"}}); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(src), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a.jpg", "dir/b.png", "dir/ü c.gif"} {
		put(k, "body of "+k)
	}

	if code, out, errOut := run("replicate", "setup", "--dry-run"); code != 0 || !strings.Contains(out, "would create replica bucket "+dst) {
		t.Fatalf("setup --dry-run: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := run("replicate", "setup"); code != 0 || !strings.Contains(out, "put replication rule") {
		t.Fatalf("setup: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run("replicate", "setup"); code != 0 || !strings.Contains(out, "nothing to change") {
		t.Fatalf("second setup: %d %s", code, out)
	}
	if code, _, errOut := run("replicate", "verify"); code != 1 || !strings.Contains(errOut, "not converged: 3 missing") {
		t.Fatalf("verify before sync: %d %s", code, errOut)
	}

	code, out, errOut := run("replicate", "sync", "--workers", "4", "-o", "json")
	var synced replicateResults[s3sync.SyncResult]
	if code != 0 || json.Unmarshal([]byte(out), &synced) != nil || synced.Buckets[0].Copied != 3 {
		t.Fatalf("sync: %d %s %s", code, out, errOut)
	}
	if code, out, _ := run("replicate", "verify", "--only", "media"); code != 0 || !strings.Contains(out, ": converged: 3 source objects") {
		t.Fatalf("verify after sync: %d %s", code, out)
	}

	put("dir/b.png", "changed")
	code, out, _ = run("replicate", "verify", "-o", "json")
	var verified replicateResults[s3sync.VerifyResult]
	if code != 1 || json.Unmarshal([]byte(out), &verified) != nil || verified.Buckets[0].Converged ||
		len(verified.Buckets[0].Different) != 1 || verified.Buckets[0].Different[0].Key != "dir/b.png" {
		t.Fatalf("verify after a change: %d %s", code, out)
	}
	if code, out, _ := run("replicate", "sync"); code != 0 || !strings.Contains(out, "copied 1 objects") || !strings.Contains(out, "skipped 2") {
		t.Fatalf("second sync: %d %s", code, out)
	}
	if code, out, _ := run("replicate", "verify"); code != 0 || !strings.Contains(out, "source read: listing") {
		t.Fatalf("verify after second sync (no inventory: the source is listed and the output says so): %d %s", code, out)
	}
	// The bucket has no S3 Inventory: asking for one fails, naming why,
	// rather than silently listing; a mode that does not exist is usage.
	if code, out, errOut := run("replicate", "verify", "--source-list", "inventory"); code == 0 || !strings.Contains(out+errOut, "inventory") {
		t.Fatalf("verify --source-list inventory without an inventory: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := run("replicate", "verify", "--source-list", "manifest"); code != 2 || !strings.Contains(errOut, "--source-list") {
		t.Fatalf("verify --source-list manifest: %d %s", code, errOut)
	}

	if code, _, errOut := run("replicate", "verify", "--only", "nope"); code != 2 || !strings.Contains(errOut, "--only nope: not a bucket") {
		t.Fatalf("--only nope: %d %s", code, errOut)
	}
	if code, _, _ := run("replicate", "sync", "--workers", "-1"); code != 2 {
		t.Fatalf("--workers -1: %d", code)
	}
}
