package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/internal/points"
)

// TestBackupAndPointsVerbs drives backup and points through the command
// line against moto (the package's shared server, an account of its own).
func TestBackupAndPointsVerbs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts, env := primaryWithDB(ctx, t)
	const P = "cn-northwest-1"
	if _, err := ec2.NewFromConfig(env.For(P)).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String("wordpress")}}}},
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "stack: wordpress\nprimary: { region: cn-northwest-1 }\ndr: { region: cn-north-1 }\nprotect:\n"
	good := write("good.yaml", head+`  databases:
    - { id: wordpress-db, keep: { primary: 2, dr: 2 }, target_rpo: 4h }
  images:
    - { name: wordpress, instance: { tag: { Role: wordpress } } }
  buckets:
    - { name: media, source: wp-media-prod, replica: wp-media-dr }
`)
	bad := write("bad.yaml", head+"  databases:\n    - { id: wordpress-db }\n    - { id: gone-db }\n")
	run := func(cfg string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		app := &App{Stdout: &out, Stderr: &errb, EnvOptions: envOpts}
		code := RunApp(ctx, app, append([]string{"--config", cfg}, args...))
		return code, out.String(), errb.String()
	}

	code, out, errOut := run(good, "backup", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run: nothing was changed") || !strings.Contains(out, "wordpress-db: create rds-instance wordpress-wordpress-db-") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = run(good, "backup", "-o", "json")
	var rep points.BackupReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 2 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	for _, r := range rep.Results {
		if r.Created == "" || r.Copied == "" || r.Error != "" {
			t.Errorf("%+v", r)
		}
	}

	code, out, errOut = run(good, "backup")
	// ok, or resumed when this run falls in the same second as the last one
	// and finishes that run's point instead of making a second one.
	if code != 0 || !strings.Contains(out, "RESOURCE") || !regexp.MustCompile(`wordpress-db\s+rds-instance\s+(ok|resumed)\s`).MatchString(out) {
		t.Fatalf("backup text: %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = run(good, "points")
	for _, want := range []string{"wordpress-db (rds-instance): RPO ", "(target 4h00m), newest DR point wordpress-wordpress-db-",
		"cn-northwest-1  wordpress-wordpress-db-", "copied", "cn-north-1", "20 GB", "wordpress (ami): RPO "} {
		if !strings.Contains(out, want) {
			t.Errorf("points output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("points: %d %s", code, errOut)
	}

	code, out, _ = run(good, "points", "--region", "dr", "-o", "json", "--only", "wordpress-db")
	var cat points.Catalogue
	if code != 0 || json.Unmarshal([]byte(out), &cat) != nil || len(cat.Resources) != 1 {
		t.Fatalf("points json: %d\n%s", code, out)
	}
	r := cat.Resources[0]
	// Two cycles ran: two points, or one when both fell in the same second.
	if len(r.Points) < 1 || len(r.Points) > 2 || r.RPOSeconds == nil || r.NewestDR == "" || r.Points[0].Region != "cn-north-1" {
		t.Fatalf("catalogue: %+v", r)
	}

	code, out, errOut = run(bad, "backup")
	if code != ExitFailed || !strings.Contains(errOut, "gone-db (rds-instance): DB instance gone-db not found in cn-northwest-1") ||
		!regexp.MustCompile(`gone-db\s+rds-instance\s+FAILED`).MatchString(out) ||
		!regexp.MustCompile(`wordpress-db\s+rds-instance\s+(ok|resumed)\s`).MatchString(out) {
		t.Fatalf("failing resource: %d\n%s\n%s", code, out, errOut)
	}

	for _, args := range [][]string{{"backup", "--only", "media"}, {"backup", "--only", "nope"}, {"points", "--region", "eu"}} {
		if code, _, errOut := run(good, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, errOut)
		}
	}
}
