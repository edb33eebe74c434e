package iampolicy_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// recorder notes the service and operation of every SDK request from the
// request's context, where the SDK's middleware puts them: exact names,
// whatever the protocol (the proxy's guesses for REST paths are not needed).
type recorder struct {
	mu   sync.Mutex
	ops  map[string]bool
	next http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	svc, op := awsmw.GetServiceID(req.Context()), awsmw.GetOperationName(req.Context())
	r.mu.Lock()
	r.ops[svc+"|"+op] = true
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// take returns and forgets the operations recorded so far.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.ops))
	for k := range r.ops {
		out = append(out, k)
	}
	sort.Strings(out)
	r.ops = map[string]bool{}
	return out
}

const cfgText = `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
state: { path: "s3://STATE/pilotlight", lock_table: pilotlight-locks }
protect:
  databases:
    - { id: wordpress-db, every: 2h }
  images:
    - { name: wordpress, instance: { tag: { Role: wordpress } } }
  buckets:
    - { name: media, source: SRC, replica: DST }
recover:
  network: { cidr: 10.1.0.0/16, azs: 2 }
  database: { from: wordpress-db, class: db.t3.medium }
`

// TestRecordedCallsAreGranted runs each verb that exists through its Go
// API against moto, records every call, and checks that the policy for
// that verb grants each of them (the static test checks the declared
// interfaces; this one checks what really runs, per verb).
func TestRecordedCallsAreGranted(t *testing.T) {
	// The SDK refuses a plain *http.Client when a CA bundle is configured;
	// moto is plain HTTP and needs none.
	t.Setenv("AWS_CA_BUNDLE", "")
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	rec := &recorder{ops: map[string]bool{}, next: http.DefaultTransport}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := awsenv.Load(ctx, awsenv.Options{Endpoint: acct.URL, MaxAttempts: 3, MaxBackoff: 50 * time.Millisecond, StandardRetry: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	const P, D = "cn-northwest-1", "cn-north-1"
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	src, dst, stateBucket := "wp-media-"+sfx, "wp-media-dr-"+sfx, "wp-state-"+sfx
	text := strings.NewReplacer("SRC", src, "DST", dst, "STATE", stateBucket).Replace(cfgText)
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}

	// Fixture, through the same env; its calls are dropped below.
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rds.NewFromConfig(env.For(P)).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("wordpress-db"), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.micro"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password1")}))
	must(ec2.NewFromConfig(env.For(P)).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String("wordpress")}}}}}))
	for _, b := range []struct{ name, region string }{{src, P}, {dst, D}, {stateBucket, D}} {
		c := env.S3(b.region, 0)
		must(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(b.region)}}))
	}
	must(env.S3(P, 0).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(src), Key: aws.String("a.jpg"), Body: strings.NewReader("a")}))
	must(dynamodb.NewFromConfig(env.For(D)).CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("pilotlight-locks"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("LockID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("LockID"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest}))
	rec.take()

	check := func(verb string, ops []string) {
		t.Helper()
		doc, err := iampolicy.For(cfg, acct.ID, verb)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			t.Errorf("%s: no call recorded", verb)
		}
		for _, o := range ops {
			svc, op, _ := strings.Cut(o, "|")
			for _, a := range iampolicy.Required(svc, op) {
				if !doc.Allows(a) {
					t.Errorf("--for %s: the run called %s %s, which needs %s: not granted", verb, svc, op, a)
				}
				if !iampolicy.CoveredByEvaluator(doc, verb, a) {
					t.Errorf("--for %s: the run called %s %s (%s), which the evaluator test never evaluates with its resources: add the call to ownCalls", verb, svc, op, a)
				}
			}
		}
		t.Logf("--for %s covers %d recorded operations", verb, len(ops))
	}

	if _, err := points.Backup(ctx, env, cfg, points.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := points.NewestDR(ctx, env, cfg, "wordpress-db"); err != nil {
		t.Fatal(err)
	}
	check(iampolicy.Backup, rec.take())

	b := cfg.Protect.Buckets[0]
	if _, err := s3sync.Setup(ctx, env, cfg, b, false); err != nil {
		t.Fatal(err)
	}
	initOps := rec.take()
	if _, err := recovery.Prepare(ctx, cfg, env); err != nil {
		// What prepare called up to a failure must be granted all the same.
		t.Logf("prepare against moto: %v", err)
	}
	check(iampolicy.Prepare, append(initOps, rec.take()...))

	if _, err := s3sync.Sync(ctx, env, cfg, b, s3sync.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3sync.Verify(ctx, env, cfg, b); err != nil {
		t.Fatal(err)
	}
	check(iampolicy.Replicate, rec.take())

	store, err := state.Open(ctx, cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "verify/media.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "verify/media.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.List(ctx, "verify/"); err != nil {
		t.Fatal(err)
	}
	release, err := store.Lock(ctx, cfg.Stack, "backup")
	if err != nil {
		t.Fatal(err)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	check(iampolicy.Backup, rec.take()) // state grants come with every verb

	pkgBin := "/bin/true"
	if _, err := os.Stat(pkgBin); err != nil {
		t.Skip("no /bin/true to pack for deploy")
	}
	pkg, err := deploy.BuildPackage(ctx, cfg, pkgBin, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// CloudWatch over awsQuery: moto 5.2.1 does not serve the SDK's
	// default RPCv2 CBOR.
	cwQuery := func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) }
	if _, err := deploy.Deploy(ctx, env, cfg, deploy.Options{Package: pkg, CloudWatchOptions: []func(*cloudwatch.Options){cwQuery}}); err != nil {
		t.Fatal(err)
	}
	check(iampolicy.Deploy, rec.take())
}
