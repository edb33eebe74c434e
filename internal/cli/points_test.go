package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// TestPointsListsSnapshotsNothingPrunes: failback's snapshot and a
// teardown's final snapshot are made outside the protect cycle, so no
// retention rule deletes them; points lists them so they are seen (and
// not paid for forever unnoticed). A snapshot of anything else is not
// listed.
func TestPointsListsSnapshotsNothingPrunes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts, env := primaryWithDB(ctx, t)
	const D = "cn-north-1"
	r := rds.NewFromConfig(env.For(D))
	if _, err := r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("wordpress-db-dr"), Engine: aws.String("mysql"),
		DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("password1")}); err != nil {
		t.Fatal(err)
	}
	for id, tg := range map[string]map[string]string{
		"wordpress-db-dr-final-20261207050000": nil,
		"wordpress-20261207-040000-ab12-fb":    tags.With(tags.Base("wordpress"), tags.OpKind, "failback"),
		"someone-elses-snapshot":               nil,
	} {
		if _, err := r.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("wordpress-db-dr"),
			DBSnapshotIdentifier: aws.String(id), Tags: tags.RDS(tg)}); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := writeConfig(t, "stack: wordpress\nprimary: { region: cn-northwest-1 }\ndr: { region: cn-north-1 }\nprotect:\n  databases:\n    - { id: wordpress-db }\n")
	run := cliRunner(ctx, envOpts, cfgPath)
	code, out, errOut := run("points")
	if code != 0 || !strings.Contains(out, "kept outside retention") ||
		!strings.Contains(out, "wordpress-db-dr-final-20261207050000") || !strings.Contains(out, "teardown's final snapshot") ||
		!strings.Contains(out, "wordpress-20261207-040000-ab12-fb") || !strings.Contains(out, "failback's copy") ||
		strings.Contains(out, "someone-elses-snapshot") {
		t.Fatalf("points: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run("points", "-o", "json")
	var res struct {
		Kept []struct{ Region, ID, Why string } `json:"kept"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Kept) != 2 || res.Kept[0].Region != D {
		t.Fatalf("points -o json: exit %d\n%s", code, out)
	}
}
