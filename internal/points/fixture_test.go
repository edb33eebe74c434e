package points

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// pairs are the directions every moto-backed acceptance test runs in: the
// seed's China pair (the Lambdas copied cn-northwest-1 -> cn-north-1) and
// the aws partition.
var pairs = [][2]string{{"cn-northwest-1", "cn-north-1"}, {"us-east-1", "us-west-2"}}

// forPairs runs f as a parallel subtest per region pair.
func forPairs(t *testing.T, f func(t *testing.T, primary, dr string)) {
	for _, p := range pairs {
		t.Run(p[0]+"_to_"+p[1], func(t *testing.T) {
			t.Parallel()
			f(t, p[0], p[1])
		})
	}
}

// t0 is the fixed start of every test clock.
var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// world is one isolated moto account with helpers to build a stack in it.
type world struct {
	t      *testing.T
	url    string      // account URL (no faults)
	direct *awsenv.Env // straight to the account, for setup and checks
	env    *awsenv.Env
	P, D   string
	proxy  *testenv.Proxy
	ctx    context.Context
}

// newWorld gives a fresh moto account and a fault proxy in front of it (no
// rules until a test adds them); env goes through the proxy so that calls
// are counted.
func newWorld(t *testing.T, primary, dr string) *world {
	t.Helper()
	acct := testenv.Shared(t).NewAccount(t)
	p, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &world{t: t, url: acct.URL, direct: testenv.AWS(t, acct.URL), env: testenv.AWS(t, p.URL), P: primary, D: dr, proxy: p, ctx: ctx}
}

// patientEnv is an env through the proxy with enough retries that injected
// throttling and HTTP 500s are absorbed as they would be on AWS.
func (w *world) patientEnv() *awsenv.Env {
	env, err := awsenv.Load(context.Background(), awsenv.Options{
		Endpoint:      w.proxy.URL,
		Credentials:   credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		MaxAttempts:   10,
		MaxBackoff:    20 * time.Millisecond,
		StandardRetry: true,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return env
}

// direct clients bypass the proxy: setup and checks are not counted.
func (w *world) rds(region string) *rds.Client {
	return rds.NewFromConfig(w.direct.For(region))
}

func (w *world) ec2(region string) *ec2.Client {
	return ec2.NewFromConfig(w.direct.For(region))
}

func (w *world) config(body string) *spec.Config {
	w.t.Helper()
	src := fmt.Sprintf("stack: wp\nprimary: { region: %s }\ndr: { region: %s }\n%s", w.P, w.D, body)
	cfg, err := spec.Parse("test.yaml", []byte(src))
	if err != nil {
		w.t.Fatalf("config: %v\n%s", err, src)
	}
	return cfg
}

func (w *world) createDB(id string, encrypted bool) {
	w.t.Helper()
	_, err := w.rds(w.P).CreateDBInstance(w.ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.micro"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password1"),
		StorageEncrypted: aws.Bool(encrypted),
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) createCluster(id string) {
	w.t.Helper()
	_, err := w.rds(w.P).CreateDBCluster(w.ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(id), Engine: aws.String("aurora-mysql"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password1"),
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// runInstance starts an instance tagged Role=role and returns its id.
func (w *world) runInstance(role string) string {
	w.t.Helper()
	out, err := w.ec2(w.P).RunInstances(w.ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Small,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String(role)}}}},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(out.Instances[0].InstanceId)
}

// createKey makes a KMS key with alias in the DR region and returns its ARN.
func (w *world) createKey(alias string) string {
	w.t.Helper()
	k := kms.NewFromConfig(w.direct.For(w.D))
	out, err := k.CreateKey(w.ctx, &kms.CreateKeyInput{})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := k.CreateAlias(w.ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// backup runs one cycle at now through env.
func (w *world) backup(env *awsenv.Env, cfg *spec.Config, now time.Time, only ...string) (*BackupReport, error) {
	return Backup(w.ctx, env, cfg, BackupOptions{Now: func() time.Time { return now }, Only: only})
}

func (w *world) mustBackup(env *awsenv.Env, cfg *spec.Config, now time.Time, only ...string) *BackupReport {
	w.t.Helper()
	rep, err := w.backup(env, cfg, now, only...)
	if err != nil {
		w.t.Fatalf("backup at %s: %v", now.Format(time.RFC3339), err)
	}
	return rep
}

// list lists one resource's points in region straight from moto.
func (w *world) list(cfg *spec.Config, region, resource string) []Point {
	w.t.Helper()
	ps, err := List(w.ctx, w.direct, cfg, region, resource)
	if err != nil {
		w.t.Fatal(err)
	}
	return ps
}

func managed(ps []Point) []Point {
	var out []Point
	for _, p := range ps {
		if p.Managed {
			out = append(out, p)
		}
	}
	return out
}

func foreign(ps []Point) []string {
	var out []string
	for _, p := range ps {
		if !p.Managed {
			out = append(out, p.ID)
		}
	}
	sort.Strings(out)
	return out
}

func ids(ps []Point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	sort.Strings(out)
	return out
}

// calls counts the proxy's forwarded calls to action (faults excluded).
func (w *world) calls(region, action string) int {
	n := 0
	for _, c := range w.proxy.CallsTo(testenv.Match{Region: region, Action: action}) {
		if c.Fault == "" {
			n++
		}
	}
	return n
}

// mutations lists forwarded calls that change anything.
func (w *world) mutations() []string {
	var out []string
	for _, c := range w.proxy.Calls() {
		for _, verb := range []string{"Create", "Copy", "Delete", "Deregister", "Modify", "Run"} {
			if strings.HasPrefix(c.Action, verb) && c.Fault == "" {
				out = append(out, c.Region+":"+c.Action)
			}
		}
	}
	return out
}

// imageSnapshotsExist reports, per snapshot id, whether it still exists.
func (w *world) snapshotExists(region, id string) bool {
	w.t.Helper()
	_, err := w.ec2(region).DescribeSnapshots(w.ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err == nil {
		return true
	}
	if apiCode(err) == "InvalidSnapshot.NotFound" {
		return false
	}
	w.t.Fatal(err)
	return false
}

func (w *world) snapshotTags(region, id string) map[string]string {
	w.t.Helper()
	out, err := w.ec2(region).DescribeSnapshots(w.ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil || len(out.Snapshots) != 1 {
		w.t.Fatalf("snapshot %s: %v", id, err)
	}
	return tags.FromEC2(out.Snapshots[0].Tags)
}
