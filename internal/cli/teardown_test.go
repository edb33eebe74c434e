package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestTeardownListsWhatExists: teardown's dry run lists what exists in the
// DR region and carries the stack's tags for that operation, not the
// generic steps; resources of a drill, of another stack or of nobody are
// not listed. Without --yes off a terminal, the list is shown and nothing
// is deleted. The resources stand in for what a failover left (made
// directly here, with the tags recovery gives them).
func TestTeardownListsWhatExists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts := testenv.Options(testenv.Shared(t).NewAccount(t).URL)
	env := testenv.AWS(t, envOpts.Endpoint)
	// us-west-2: moto refuses aws-cn ARNs in ElastiCache's ListTagsForResource.
	const D = "us-west-2"
	kind := func(stack, op string) map[string]string {
		return tags.With(tags.Base(stack), tags.OpKind, op)
	}
	r := rds.NewFromConfig(env.For(D))
	for id, tg := range map[string]map[string]string{
		"wordpress-db-dr":    kind("wordpress", "failover"),
		"wordpress-db-drill": kind("wordpress", "drill"),
		"other-db":           kind("other", "failover"),
		"hand-made-db":       nil,
	} {
		if _, err := r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"),
			DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"),
			MasterUserPassword: aws.String("password1"), Tags: tags.RDS(tg)}); err != nil {
			t.Fatal(err)
		}
	}
	e := ec2.NewFromConfig(env.For(D))
	vpc, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.9.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := e.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc,
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeElasticIp, kind("wordpress", "failover"))})
	if err != nil {
		t.Fatal(err)
	}
	nat, err := e.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: sub.Subnet.SubnetId, AllocationId: eip.AllocationId,
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeNatgateway, kind("wordpress", "failover"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elasticache.NewFromConfig(env.For(D)).CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("wordpress-cache"), ReplicationGroupDescription: aws.String("dr"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), Tags: tags.ElastiCache(kind("wordpress", "failover"))}); err != nil {
		t.Fatal(err)
	}

	cfgPath := writeConfig(t, "stack: wordpress\nprimary: { region: us-east-1 }\ndr: { region: us-west-2 }\nprotect:\n  databases:\n    - { id: wordpress-db }\n")
	run := cliRunner(ctx, envOpts, cfgPath)
	code, out, errOut := run("teardown", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"teardown of wordpress's failover would delete, in us-west-2:", "wordpress-db-dr", "a final snapshot is taken first",
		aws.ToString(nat.NatGateway.NatGatewayId), aws.ToString(eip.AllocationId), "wordpress-cache"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not list %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"wordpress-db-drill", "other-db", "hand-made-db"} {
		if strings.Contains(out, not) {
			t.Errorf("dry run lists %s, which is not the failover's:\n%s", not, out)
		}
	}

	code, out, _ = run("teardown", "--dry-run", "--kind", "drill", "-o", "json")
	var inv readiness.Inventory
	if code != 0 || json.Unmarshal([]byte(out), &inv) != nil || len(inv.Found) != 1 || inv.Found[0].ID != "wordpress-db-drill" || inv.Found[0].Note != "no final snapshot" {
		t.Fatalf("drill dry run: exit %d\n%s", code, out)
	}

	if isTerminal(os.Stdin) {
		return
	}
	code, out, errOut = run("teardown")
	if code != ExitUsage || !strings.Contains(out, "wordpress-db-dr") || !strings.Contains(errOut, "--yes") {
		t.Fatalf("teardown without --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := r.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("wordpress-db-dr")}); err != nil {
		t.Fatalf("teardown without --yes deleted the database: %v", err)
	}
}

// TestTeardownOldPrimaryRefusesWithoutACompletedFailback: retiring the old
// primary needs a failback that finished, and the stack serving from the
// primary again; otherwise nothing is resolved or deleted, and the output
// says why. The records stand in for what operation.Recover leaves.
func TestTeardownOldPrimaryRefusesWithoutACompletedFailback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envOpts := testenv.Options(testenv.Shared(t).NewAccount(t).URL)
	cfgPath := writeConfig(t, "stack: wordpress\nprimary: { region: cn-north-1 }\ndr: { region: cn-northwest-1 }\nprotect:\n  databases:\n    - { id: wordpress-db }\n")
	run := cliRunner(ctx, envOpts, cfgPath)
	if code, _, errOut := run("teardown", "--kind", "old-primary", "--network", "--dry-run"); code != ExitUsage || !strings.Contains(errOut, "--network") {
		t.Fatalf("--network with old-primary: exit %d\n%s", code, errOut)
	}
	code, out, errOut := run("teardown", "--kind", "old-primary", "--dry-run")
	if code != ExitFailed || !strings.Contains(out, "no failback of wordpress is recorded") {
		t.Fatalf("without a failback: exit %d\n%s\n%s", code, out, errOut)
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	saveRecords(ctx, t, cfgPath, &operation.Record{ID: "failback-1", Kind: operation.KindFailback, Stack: "wordpress",
		Phase: operation.PhaseInProgress, Start: start, Journals: []string{"failback-20261207-090000-abcd"}})
	code, out, _ = run("teardown", "--kind", "old-primary", "--yes", "-o", "json")
	var res recovery.Retirement
	if code != ExitFailed || json.Unmarshal([]byte(out), &res) != nil || len(res.Refused) != 1 || !strings.Contains(res.Refused[0], "failback failback-20261207-090000-abcd has not completed") {
		t.Fatalf("with the failback unfinished: exit %d\n%s", code, out)
	}
	saveRecords(ctx, t, cfgPath, &operation.Record{ID: "failover-2", Kind: operation.KindFailover, Stack: "wordpress",
		Phase: operation.PhaseCompleted, Start: start.Add(time.Minute), End: start.Add(2 * time.Minute)})
	code, _, errOut = run("teardown", "--kind", "old-primary", "--dry-run")
	if code != ExitFailed || !strings.Contains(errOut, "the newest recovery of wordpress is failover failover-2") {
		t.Fatalf("after a newer failover: exit %d\n%s", code, errOut)
	}
}

// TestNewestFailbackCollectsEarlierOnes: the old productions of completed
// failbacks before the newest come along (one nobody retired is named by
// no later report); an unfinished earlier one does not.
func TestNewestFailbackCollectsEarlierOnes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgPath := writeConfig(t, "stack: wordpress\nprimary: { region: cn-north-1 }\ndr: { region: cn-northwest-1 }\nprotect:\n  databases:\n    - { id: wordpress-db }\n")
	cfg, err := spec.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i, fb := range []struct {
		run   string
		phase operation.Phase
		old   string
	}{
		{"failback-20261207-080000-aaaa", operation.PhaseCompleted, "wordpress-db"},
		{"failback-20261207-083000-bbbb", operation.PhaseFailed, "never-replaced"},
		{"failback-20261207-090000-cccc", operation.PhaseCompleted, "wordpress-wordpress-db-fb1"},
	} {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		rep := &recovery.Report{RunID: fb.run, Kind: recovery.KindFailback, Phase: "done",
			Failback: &recovery.FailbackSummary{OldProduction: []recovery.Resource{{Type: "rds", ID: fb.old}}}}
		if fb.phase != operation.PhaseCompleted {
			rep.Phase = "failed"
		}
		if _, err := operation.SaveReport(ctx, store, fb.run, &operation.Stored{Report: rep}); err != nil {
			t.Fatal(err)
		}
		if err := operation.Save(ctx, store, &operation.Record{ID: "failback-op-" + fb.run, Kind: operation.KindFailback, Stack: "wordpress",
			Phase: fb.phase, Start: at, End: at.Add(time.Minute), Journals: []string{fb.run}}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := newestFailback(ctx, store, "wordpress")
	if err != nil {
		t.Fatal(err)
	}
	if old.Failback != "failback-20261207-090000-cccc" || !old.Completed || len(old.Earlier) != 1 ||
		old.Earlier[0].Failback != "failback-20261207-080000-aaaa" || old.Earlier[0].Old[0].ID != "wordpress-db" {
		t.Fatalf("newest failback %+v", old)
	}
}
