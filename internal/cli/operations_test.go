package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestRunsRecordsEveryOperation: backup, prepare and replicate sync are
// recorded like the recovery graphs, and `runs -o json` lists each with
// its phase and what it did to each resource.
func TestRunsRecordsEveryOperation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts, env := primaryWithDB(ctx, t)
	src, dst := mediaBucket(ctx, t, env)
	cfgPath := writeConfig(t, `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - { id: wordpress-db, keep: { primary: 2, dr: 2 } }
  buckets:
    - { name: media, source: `+src+`, replica: `+dst+`, create_replica: true }
`)
	run := cliRunner(ctx, envOpts, cfgPath)
	for _, args := range [][]string{{"backup"}, {"prepare"}, {"replicate", "setup"}, {"replicate", "sync"}} {
		if code, out, errOut := run(args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}

	code, out, errOut := run("runs", "-o", "json")
	var res runsResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("runs: %d\n%s\n%s", code, out, errOut)
	}
	byKind := map[string]runSummary{}
	for _, r := range res.Runs {
		byKind[r.Kind] = r
	}
	want := map[operation.Kind]string{operation.KindBackup: "wordpress-db", operation.KindPrepare: "cn-north-1/network",
		operation.KindReplicateSetup: "media", operation.KindReplicateSync: "media"}
	for kind, resource := range want {
		r, ok := byKind[string(kind)]
		if !ok {
			t.Errorf("runs does not list the %s:\n%s", kind, out)
			continue
		}
		if r.Phase != operation.PhaseCompleted || r.End.IsZero() {
			t.Errorf("%s %s: phase %s, end %v", kind, r.ID, r.Phase, r.End)
		}
		found := false
		for _, x := range r.Results {
			found = found || (x.Resource == resource && x.Phase == operation.PhaseCompleted)
		}
		if !found {
			t.Errorf("%s %s: no completed result for %s: %+v", kind, r.ID, resource, r.Results)
		}
	}
	if sync := byKind[string(operation.KindReplicateSync)]; len(sync.Results) != 1 || !strings.Contains(sync.Results[0].Detail, "copied 1") {
		t.Errorf("sync's result does not say what it copied: %+v", sync.Results)
	}

	// --kind replicate is the family; the text form shows one operation's results.
	code, out, _ = run("runs", "-o", "json", "--kind", "replicate")
	res = runsResult{}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Runs) != 2 {
		t.Fatalf("runs --kind replicate: %d\n%s", code, out)
	}
	backup := byKind[string(operation.KindBackup)]
	code, out, _ = run("runs", backup.ID)
	if code != 0 || !strings.Contains(out, "backup "+backup.ID+" of wordpress: Completed") || !strings.Contains(out, "wordpress-db") {
		t.Fatalf("runs %s: %d\n%s", backup.ID, code, out)
	}
}

// primaryWithDB is a moto account of the test's own with the database
// wordpress-db in cn-northwest-1.
func primaryWithDB(ctx context.Context, t *testing.T) (*awsenv.Options, *awsenv.Env) {
	t.Helper()
	envOpts := testenv.Options(testenv.Shared(t).NewAccount(t).URL)
	env, err := awsenv.Load(ctx, *envOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rds.NewFromConfig(env.For("cn-northwest-1")).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("wordpress-db"), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.micro"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password1"),
	}); err != nil {
		t.Fatal(err)
	}
	return envOpts, env
}
