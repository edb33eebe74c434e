package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const cfgText = `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
state: { path: s3://wordpress-dr-state/pilotlight }
protect:
  databases:
    - { id: wordpress-db, every: 2h }
  images:
    - { name: wordpress, instance: { tag: { Role: wordpress } }, every: "cron(0 3 * * ? *)" }
  buckets:
    - { name: media, source: wp-media-prod, replica: wp-media-dr }
`

func writeConfig(t *testing.T, text string) *spec.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// binary is a small Linux executable standing in for pilotlight: moto
// stores the zip but never runs it (MOTO.md), so any ELF will do.
func binary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no /bin/true to pack")
	return ""
}

func TestPackageIsDeterministicAndComplete(t *testing.T) {
	cfg := writeConfig(t, cfgText)
	a, err := BuildPackage(context.Background(), cfg, binary(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BuildPackage(context.Background(), cfg, binary(t), "", "")
	if a.SHA256 != b.SHA256 || !bytes.Equal(a.Zip, b.Zip) {
		t.Fatal("two builds of the same inputs differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Zip), int64(len(a.Zip)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]os.FileMode{}
	for _, f := range zr.File {
		got[f.Name] = f.Mode()
	}
	if got["bootstrap"]&0o111 == 0 || got["pilotlight"]&0o111 == 0 || got["pilotlight.yaml"] == 0 {
		t.Fatalf("zip entries %v", got)
	}
	if _, err := BuildPackage(context.Background(), cfg, cfg.File, "", ""); err == nil || !strings.Contains(err.Error(), "ELF") {
		t.Fatalf("a YAML file packed as the binary: %v", err)
	}
	if _, err := BuildPackage(context.Background(), cfg, binary(t), "", "arm64"); a.Arch == "x86_64" && err == nil {
		t.Fatal("x86_64 binary accepted for arm64")
	}
}

func TestDeployAgainstMotoIsIdempotent(t *testing.T) {
	t.Parallel()
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	ctx := context.Background()
	cfg := writeConfig(t, cfgText)
	pkg, err := BuildPackage(ctx, cfg, binary(t), "", "")
	if err != nil {
		t.Fatal(err)
	}

	// Dry run on an empty account: says everything, makes nothing.
	dry, err := Deploy(ctx, env, cfg, Options{CloudWatchOptions: queryProtocol, Package: pkg, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// 2 roles + 2 policies + function + 3 schedules + topic + 5 alarms.
	if len(dry.Changes) != 14 || !strings.HasPrefix(dry.Changes[0], "would create role") {
		t.Fatalf("dry run: %q", dry.Changes)
	}
	fn := lambda.NewFromConfig(env.For("cn-north-1"))
	if _, err := fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(FunctionName("wordpress"))}); err == nil {
		t.Fatal("dry run created the function")
	}

	first, err := Deploy(ctx, env, cfg, Options{CloudWatchOptions: queryProtocol, Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Changes) != 14 {
		t.Fatalf("first deploy: %q", first.Changes)
	}
	if !strings.HasPrefix(first.FunctionARN, "arn:aws-cn:lambda:cn-north-1:") {
		t.Fatalf("function ARN %s", first.FunctionARN)
	}
	got, err := fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(FunctionName("wordpress"))})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Configuration; string(c.Runtime) != "provided.al2023" || aws.ToString(c.Handler) != "bootstrap" ||
		aws.ToString(c.CodeSha256) != pkg.SHA256 || !strings.HasSuffix(aws.ToString(c.Role), ":role/"+RoleName("wordpress")) {
		t.Fatalf("function %+v", c)
	}
	sc := scheduler.NewFromConfig(env.For("cn-north-1"))
	for _, want := range []struct{ name, expr, input string }{
		{"wordpress-wordpress-db", "rate(2 hours)", `{"action":"backup","only":["wordpress-db"],"tick":"<aws.scheduler.scheduled-time>"}`},
		{"wordpress-wordpress", "cron(0 3 * * ? *)", `{"action":"backup","only":["wordpress"],"tick":"<aws.scheduler.scheduled-time>"}`},
		{"wordpress-media", "rate(1 hour)", `{"action":"verify","only":["media"],"tick":"<aws.scheduler.scheduled-time>"}`},
	} {
		s, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(want.name)})
		if err != nil {
			t.Fatalf("%s: %v", want.name, err)
		}
		if aws.ToString(s.ScheduleExpression) != want.expr || aws.ToString(s.Target.Input) != want.input ||
			aws.ToString(s.Target.Arn) != first.FunctionARN || !strings.HasSuffix(aws.ToString(s.Target.RoleArn), SchedulerRoleName("wordpress")) {
			t.Errorf("%s: %s %s -> %s", want.name, aws.ToString(s.ScheduleExpression), aws.ToString(s.Target.Input), aws.ToString(s.Target.Arn))
		}
	}
	pol, err := iam.NewFromConfig(env.For("cn-north-1")).GetRolePolicy(ctx, &iam.GetRolePolicyInput{
		RoleName: aws.String(SchedulerRoleName("wordpress")), PolicyName: aws.String(inlinePolicy)})
	if err != nil || !strings.Contains(aws.ToString(pol.PolicyDocument), "InvokeFunction") {
		t.Fatalf("scheduler role policy: %v %v", pol, err)
	}
	// H4: every role pilotlight makes carries the stack's boundary.
	for _, name := range []string{RoleName("wordpress"), SchedulerRoleName("wordpress")} {
		r, err := iam.NewFromConfig(env.For("cn-north-1")).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil || r.Role.PermissionsBoundary == nil ||
			!strings.HasSuffix(aws.ToString(r.Role.PermissionsBoundary.PermissionsBoundaryArn), ":policy/wordpress-pilotlight-boundary") {
			t.Fatalf("role %s has no permissions boundary: %+v %v", name, r, err)
		}
	}

	second, err := Deploy(ctx, env, cfg, Options{CloudWatchOptions: queryProtocol, Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Unchanged() {
		t.Fatalf("second deploy changed %q", second.Changes)
	}

	// A resource dropped from the config loses its schedule; nothing else moves.
	fewer := writeConfig(t, strings.Replace(cfgText, "  buckets:\n    - { name: media, source: wp-media-prod, replica: wp-media-dr }\n", "", 1))
	pkg2, _ := BuildPackage(ctx, fewer, binary(t), "", "")
	third, err := Deploy(ctx, env, fewer, Options{CloudWatchOptions: queryProtocol, Package: pkg2})
	if err != nil {
		t.Fatal(err)
	}
	var sawDelete, sawCode bool
	for _, c := range third.Changes {
		sawDelete = sawDelete || strings.HasPrefix(c, "delete schedule wordpress-media")
		sawCode = sawCode || strings.HasPrefix(c, "update the code")
	}
	if !sawDelete || !sawCode {
		t.Fatalf("third deploy: %q", third.Changes)
	}
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("wordpress-media")}); err == nil {
		t.Fatal("schedule of a removed resource kept")
	}
}
