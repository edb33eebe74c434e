package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestIAMPolicyHelpMatchesFor: every verb --for accepts is in the help and
// the flag's help, init is described as the read-only discovery it is, and
// prepare (replicate setup) and boundary are offered (L10).
func TestIAMPolicyHelpMatchesFor(t *testing.T) {
	_, out, _ := run(t, "iam-policy", "--help")
	for _, v := range append(iampolicy.Verbs(), iampolicy.All, iampolicy.Boundary) {
		if !strings.Contains(out, "  "+v+" ") && !strings.Contains(out, " "+v+"\n") && !strings.Contains(out, "or "+v) {
			t.Errorf("help does not describe --for %s:\n%s", v, out)
		}
	}
	flag := out[strings.Index(out, "--for string"):]
	flag = flag[:strings.Index(flag, "\n")]
	for _, v := range append(iampolicy.Verbs(), iampolicy.Boundary) {
		if !strings.Contains(flag, v) {
			t.Errorf("--for flag help omits %s: %s", v, flag)
		}
	}
	if strings.Contains(out, "init (replicate setup and prepare)") || !strings.Contains(out, "read-only discovery") {
		t.Errorf("help still says init is replicate setup and prepare:\n%s", out)
	}
}

// TestIAMPolicyBoundaryAndZone: --for boundary prints the boundary, which
// grants nothing of IAM; --zone-id scopes record changes to that zone.
func TestIAMPolicyBoundaryAndZone(t *testing.T) {
	code, out, errOut := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "boundary", "--account", "123456789012")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc iampolicy.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Statement) == 0 {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, a := range doc.Actions() {
		if strings.HasPrefix(a, "iam:") {
			t.Errorf("boundary grants %s", a)
		}
	}
	code, out, errOut = run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "failover", "--account", "123456789012", "--zone-id", "Z0123456789EXAMPLE")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "hostedzone/Z0123456789EXAMPLE") || strings.Contains(out, "hostedzone/*") {
		t.Fatalf("records not scoped to the zone:\n%s", out)
	}
	if code, _, _ := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "boundary,backup", "--account", "1"); code != ExitUsage {
		t.Fatalf("boundary mixed with verbs: exit %d", code)
	}
}

// TestIAMPolicySplit: --split writes parts IAM accepts as managed policies
// (6,144 characters at most) that together hold every statement.
func TestIAMPolicySplit(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "all", "--account", "123456789012", "--split", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	files := strings.Fields(out)
	if len(files) < 2 {
		t.Fatalf("one part for --for all: %s", out)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc iampolicy.Document
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Size() > iampolicy.ManagedPolicyLimit {
			t.Errorf("%s: %d characters", f, doc.Size())
		}
		n += len(doc.Statement)
	}
	_, whole, _ := run(t, "iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "all", "--account", "123456789012")
	var doc iampolicy.Document
	if err := json.Unmarshal([]byte(whole), &doc); err != nil || len(doc.Statement) != n {
		t.Fatalf("parts hold %d statements, the policy %d (%v)", n, len(doc.Statement), err)
	}
}

// TestIAMPolicyLooksUpTheZone: with the account from STS, the configured
// zone's id is looked up, and record changes are granted on it alone.
func TestIAMPolicyLooksUpTheZone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	envOpts := testenv.Options(testenv.Shared(t).NewAccount(t).URL)
	env, err := awsenv.Load(ctx, *envOpts)
	if err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(env.For("cn-north-1"))
	// A private zone of the same name comes first: recovery never uses it.
	if _, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("private"),
		HostedZoneConfig: &r53types.HostedZoneConfig{PrivateZone: true},
		VPC:              &r53types.VPC{VPCId: aws.String("vpc-12345678"), VPCRegion: r53types.VPCRegionCnNorth1}}); err != nil {
		t.Fatal(err)
	}
	z, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
	var out, errb bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errb, EnvOptions: envOpts}
	if code := RunApp(ctx, app, []string{"iam-policy", "--config", "../../examples/wordpress/pilotlight.yaml", "--for", "prepare"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "hostedzone/"+id+`"`) || strings.Contains(out.String(), "hostedzone/*") {
		t.Fatalf("records not scoped to zone %s:\n%s", id, out.String())
	}
}
