package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// writeConfig writes yaml as pilotlight.yaml in a fresh temp dir, as a
// user's config file, and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// cliRunner runs the command line with cfgPath against envOpts, as a user
// would, and returns exit code, stdout and stderr.
func cliRunner(ctx context.Context, envOpts *awsenv.Options, cfgPath string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		app := &App{Stdout: &out, Stderr: &errb, EnvOptions: envOpts}
		code := RunApp(ctx, app, append([]string{"--config", cfgPath}, args...))
		return code, out.String(), errb.String()
	}
}

// mediaBucket makes a source bucket with one object in cn-northwest-1 and
// names a replica bucket that does not exist yet, both unique to the test.
func mediaBucket(ctx context.Context, t *testing.T, env *awsenv.Env) (src, dst string) {
	t.Helper()
	const P = "cn-northwest-1"
	id := testenv.RandomAccountID()
	src, dst = "wp-media-prod-"+id, "wp-media-dr-"+id
	s3c := env.S3(P, 0)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(src),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: P}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(src), Key: aws.String("a.jpg"), Body: strings.NewReader("a")}); err != nil {
		t.Fatal(err)
	}
	return src, dst
}

// faultProxy puts the fault proxy (and AWS's clock, when enabled) in front
// of the moto endpoint, closed when the test ends.
func faultProxy(t *testing.T, endpoint string) *testenv.Proxy {
	t.Helper()
	proxy, err := testenv.NewProxy(endpoint, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	return proxy
}
