package recovery

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// recordsOf returns the records of name without a routing policy.
func recordsOf(t testing.TB, env *awsenv.Env, region, name string) []r53types.ResourceRecordSet {
	t.Helper()
	ctx := context.Background()
	c := route53.NewFromConfig(env.For(region))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.com.")})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatalf("zone: %v", err)
	}
	rrs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	var out []r53types.ResourceRecordSet
	for _, rr := range rrs.ResourceRecordSets {
		if strings.EqualFold(aws.ToString(rr.Name), fqdn(name)) && rr.SetIdentifier == nil {
			out = append(out, rr)
		}
	}
	return out
}

func setRecord(t testing.TB, env *awsenv.Env, region string, rr r53types.ResourceRecordSet, del ...r53types.ResourceRecordSet) {
	t.Helper()
	ctx := context.Background()
	c := route53.NewFromConfig(env.For(region))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.com.")})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatalf("zone: %v", err)
	}
	var changes []r53types.Change
	for _, d := range del {
		d := d
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &d})
	}
	changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rr})
	if _, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id, ChangeBatch: &r53types.ChangeBatch{Changes: changes}}); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareRefusesARecordItDoesNotOwn (reliability review H1): a
// production record that points anywhere but primary_target is someone's
// live traffic; prepare refuses, showing it, and leaves it as it was.
func TestPrepareRefusesARecordItDoesNotOwn(t *testing.T) {
	moto := testenv.Shared(t)
	for _, tc := range []struct {
		name string
		rr   r53types.ResourceRecordSet
		show string
	}{
		{"cname to a CDN", r53types.ResourceRecordSet{Name: aws.String("shop.example.com."), Type: r53types.RRTypeCname, TTL: aws.Int64(300),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("cdn.partner.example.net")}}}, "CNAME cdn.partner.example.net"},
		{"A to a host", r53types.ResourceRecordSet{Name: aws.String("shop.example.com."), Type: r53types.RRTypeA, TTL: aws.Int64(300),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.10")}}}, "A 192.0.2.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
			ctx := ctxTimeout(t)
			seedProduction(t, env, cfg)
			setRecord(t, env, cfg.DR.Region, tc.rr, recordsOf(t, env, cfg.DR.Region, "shop.example.com")...)
			before := recordsOf(t, env, cfg.DR.Region, "shop.example.com")

			_, err := Prepare(ctx, cfg, env)
			if err == nil || !strings.Contains(err.Error(), tc.show) || !strings.Contains(err.Error(), "primary_target") {
				t.Fatalf("prepare over %s: %v, want a refusal showing %q", tc.name, err, tc.show)
			}
			if after := recordsOf(t, env, cfg.DR.Region, "shop.example.com"); !reflect.DeepEqual(after, before) {
				t.Fatalf("the production record changed:\n before %+v\n after  %+v", before, after)
			}
		})
	}
}

// TestPrepareTeardownPrepareKeepsTheRecord (reliability review H1; real-AWS
// review finding 4): prepare, teardown --network and prepare again succeed,
// and after the last teardown the production record is exactly what it was.
// Route 53 refuses, for days, a deleted health check's CallerReference;
// moto does not, so a proxy in front of it does (refusingRoute53).
func TestPrepareTeardownPrepareKeepsTheRecord(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	_, r53 := newRefusingRoute53(t, acct.URL)
	env := testenv.AWS(t, r53)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	began := recordsOf(t, env, cfg.DR.Region, "shop.example.com")
	if len(began) != 1 || began[0].Type != r53types.RRTypeCname {
		t.Fatalf("fixture: %+v", began)
	}
	store := openStore(t, cfg)
	teardownNetwork := func() {
		t.Helper()
		g, _ := New(cfg, env, Options{Wait: fastWait}).TeardownGraph(TeardownOptions{Network: true})
		_, err := run(t, ctx, store, cfg, g, "teardown-"+KindFailover)
		// moto lacks DeleteCacheSubnetGroup (HTTP 500, MOTO.md).
		if err != nil && !strings.Contains(err.Error(), "cache subnet group") {
			t.Fatalf("teardown --network: %v", err)
		}
	}
	for round := 1; round <= 2; round++ {
		if _, err := Prepare(ctx, cfg, env); err != nil {
			t.Fatalf("prepare, round %d: %v", round, err)
		}
		if got := recordsOf(t, env, cfg.DR.Region, "shop.example.com"); len(got) != 0 {
			t.Fatalf("round %d: simple record left beside the failover pair: %+v", round, got)
		}
		teardownNetwork()
		if got := recordsOf(t, env, cfg.DR.Region, "shop.example.com"); !reflect.DeepEqual(got, began) {
			t.Fatalf("round %d: after teardown --network the record is\n %+v\nwant exactly\n %+v", round, got, began)
		}
	}
	hcs, err := route53.NewFromConfig(env.For(cfg.DR.Region)).ListHealthChecks(ctx, &route53.ListHealthChecksInput{})
	if err != nil || len(hcs.HealthChecks) != 0 {
		t.Fatalf("health checks left: %v %v", hcs, err)
	}
}

// TestUpsertReplacesACNAME (reliability review L9): Route 53 refuses an A
// alias beside a CNAME of the same name; the failover must replace the
// production CNAME in the same batch, not write the alias beside it.
func TestUpsertReplacesACNAME(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
	j, err := run(t, ctx, store, cfg, g, KindFailover)
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	got := recordsOf(t, env, cfg.DR.Region, "shop.example.com")
	if len(got) != 1 || got[0].Type != r53types.RRTypeA || got[0].AliasTarget == nil ||
		targetOf(got[0]) != outputsOf(j)[StepLoadBalancer]["lb_dns"] {
		t.Fatalf("records of the name after failover: %+v, want one A alias to the DR load balancer", got)
	}
}
