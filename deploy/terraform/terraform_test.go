// Package terraform_test applies the deploy/terraform module against moto.
// It is a package of its own so that its minute of terraform runs beside
// the other packages' tests instead of inside internal/deploy's.
package terraform_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/deploy"
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

// tfRoot wraps the module with a provider pointed at moto, with the
// settings MOTO.md lists for Terraform.
const tfRoot = `
provider "aws" {
  region                      = "cn-north-1"
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "secret"
  skip_credentials_validation = true
  skip_region_validation      = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
}

variable "stack" { type = string }
variable "lambda_zip" { type = string }
variable "policy_json" { type = string }
variable "schedules" {
  type = map(object({ expression = string, input = string }))
}
variable "alarms" { type = any }

module "pilotlight" {
  source      = "MODULE"
  stack       = var.stack
  lambda_zip  = var.lambda_zip
  policy_json = var.policy_json
  schedules   = var.schedules
  alarms      = var.alarms
}

output "function_arn" { value = module.pilotlight.function_arn }
output "alarm_topic_arn" { value = module.pilotlight.alarm_topic_arn }
`

// TestTerraformModuleAgainstMoto runs the module's init, validate, apply
// and destroy against moto, and checks that apply made what deploy makes.
func TestTerraformModuleAgainstMoto(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH: the deploy/terraform module is not exercised here")
	}
	plugins := os.Getenv("PILOTLIGHT_TF_PLUGINS")
	if plugins == "" {
		plugins = "/opt/tf-plugins"
	}
	if _, err := os.Stat(plugins); err != nil {
		t.Skipf("no Terraform provider mirror at %s (set PILOTLIGHT_TF_PLUGINS): terraform cannot download providers here", plugins)
	}
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("no /bin/true to pack")
	}
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cfg := config(t)
	pkg, err := deploy.BuildPackage(ctx, cfg, "/bin/true", "", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "pilotlight.zip")
	if err := os.WriteFile(zipPath, pkg.Zip, 0o600); err != nil {
		t.Fatal(err)
	}
	policy, err := deploy.Policy(cfg, acct.ID, "cn-north-1")
	if err != nil {
		t.Fatal(err)
	}
	policyJSON, _ := json.Marshal(policy)
	scheds, _ := deploy.Schedules(cfg)
	vars := map[string]any{"stack": cfg.Stack, "lambda_zip": zipPath, "policy_json": string(policyJSON)}
	sm := map[string]any{}
	for _, s := range scheds {
		sm[s.Resource] = map[string]string{"expression": s.Expression, "input": s.Input}
	}
	vars["schedules"] = sm
	alarms, err := deploy.Alarms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vars["alarms"] = alarms
	data, _ := json.Marshal(vars)
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	module, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(strings.Replace(tfRoot, "MODULE", module, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+acct.URL, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
			"TF_CLI_CONFIG_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("terraform %s: %s", args[0], time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init", "-input=false", "-plugin-dir="+plugins)
	run("validate")
	run("apply", "-auto-approve", "-input=false")
	destroyed := false
	defer func() {
		if !destroyed {
			run("destroy", "-auto-approve", "-input=false")
		}
	}()

	fn, err := lambda.NewFromConfig(env.For("cn-north-1")).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(deploy.FunctionName(cfg.Stack))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fn.Configuration.CodeSha256) != pkg.SHA256 || string(fn.Configuration.Runtime) != "provided.al2023" {
		t.Fatalf("function %+v", fn.Configuration)
	}
	sc := scheduler.NewFromConfig(env.For("cn-north-1"))
	for _, s := range scheds {
		got, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.Name)})
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if aws.ToString(got.ScheduleExpression) != s.Expression || aws.ToString(got.Target.Input) != s.Input {
			t.Errorf("%s: %s %s", s.Name, aws.ToString(got.ScheduleExpression), aws.ToString(got.Target.Input))
		}
	}
	// The alarms deploy makes, on the same metrics, notifying the topic
	// the module made. CloudWatch is read over awsQuery: the SDK's default
	// RPCv2 CBOR is not served by moto 5.2.1.
	cw := cloudwatch.NewFromConfig(env.For("cn-north-1"), func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
	got, err := deploy.ExistingAlarms(ctx, cw, cfg.Stack, "cn-north-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(alarms) {
		t.Errorf("%d alarms, want %d", len(got), len(alarms))
	}
	for _, a := range alarms {
		g, ok := got[a.Name]
		if !ok {
			t.Errorf("no alarm %s", a.Name)
			continue
		}
		if aws.ToString(g.MetricName) != a.Metric || aws.ToFloat64(g.Threshold) != a.Threshold || len(g.AlarmActions) != 1 ||
			!strings.HasSuffix(g.AlarmActions[0], ":wordpress-pilotlight-alarms") {
			t.Errorf("%s: %s > %g -> %v", a.Name, aws.ToString(g.MetricName), aws.ToFloat64(g.Threshold), g.AlarmActions)
		}
	}
	run("destroy", "-auto-approve", "-input=false")
	destroyed = true
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(scheds[0].Name)}); err == nil {
		t.Fatal("destroy left a schedule")
	}
}

func config(t *testing.T) *spec.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
