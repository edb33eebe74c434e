package recovery

import (
	"context"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestPrepareFailoverTeardown is the whole recovery in each region pair and
// DNS mode: prepare (twice: the second changes nothing), a protect cycle,
// failover, then teardown.
func TestPrepareFailoverTeardown(t *testing.T) {
	moto := testenv.Shared(t)
	for _, pair := range pairs {
		for _, mode := range []string{spec.DNSFailoverRecords, spec.DNSUpsert} {
			t.Run(pair.primary+"->"+pair.dr+"/"+mode, func(t *testing.T) {
				t.Parallel()
				env := testenv.AWS(t, moto.NewAccount(t).URL)
				cfg := testConfig(t, pair.primary, pair.dr, mode)
				ctx := ctxTimeout(t)
				seedProduction(t, env, cfg)

				first, err := Prepare(ctx, cfg, env)
				if err != nil {
					t.Fatal(err)
				}
				if len(first.Changes) == 0 {
					t.Fatal("first prepare changed nothing")
				}
				again, err := Prepare(ctx, cfg, env)
				if err != nil {
					t.Fatal(err)
				}
				if len(again.Changes) != 0 {
					t.Fatalf("second prepare changed %v", again.Changes)
				}

				// Something of someone else's in the DR VPC must survive teardown.
				foreign, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
					GroupName: aws.String("someone-elses"), Description: aws.String("not pilotlight's"), VpcId: aws.String(first.Network.VPC),
				})
				if err != nil {
					t.Fatal(err)
				}

				store := openStore(t, cfg)
				r := New(cfg, env, Options{Wait: fastWait})
				g, err := r.Graph()
				if err != nil {
					t.Fatal(err)
				}
				j, err := run(t, ctx, store, cfg, g, KindFailover)
				if err != nil {
					t.Fatalf("failover: %v", err)
				}
				out := outputsOf(j)
				newest, err := points.NewestDR(ctx, env, cfg, "shop-db")
				if err != nil {
					t.Fatal(err)
				}
				if out[StepPoints]["db_point"] != newest.ID {
					t.Fatalf("restored from %s, newest DR copy is %s", out[StepPoints]["db_point"], newest.ID)
				}
				ud := userData(t, env, cfg.DR.Region, out[StepLaunchTemplate]["launch_template_name"])
				for _, want := range []string{out[StepDatabase]["db_host"], out[StepCache]["cache_host"], "BUCKET='" + cfg.Protect.Buckets[0].Replica + "'", "REGION='" + cfg.DR.Region + "'", "USER='shop'"} {
					if want == "" || !strings.Contains(ud, want) {
						t.Fatalf("user-data lacks %q:\n%s", want, ud)
					}
				}
				if out[StepApp]["healthy"] != "2" {
					t.Fatalf("healthy targets: %v", out[StepApp])
				}
				c := counts(t, env, cfg.DR.Region)
				if c["db"] != 1 || c["cache"] != 1 || c["asg"] != 1 || c["lt"] != 1 || c["nat"] != 1 {
					t.Fatalf("DR region after failover: %v", c)
				}
				lbDNS := out[StepLoadBalancer]["lb_dns"]
				switch mode {
				case spec.DNSUpsert:
					if got := recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com"); got != lbDNS {
						t.Fatalf("record points at %q, want the DR load balancer %q", got, lbDNS)
					}
				case spec.DNSFailoverRecords:
					if lbDNS != first.LoadBalancerDNS {
						t.Fatalf("failover used %s, not the prepared load balancer %s", lbDNS, first.LoadBalancerDNS)
					}
					// prepare replaced the plain record with the pair; failover
					// made no Route 53 change.
					if got := recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com"); got != "" {
						t.Fatalf("a simple record is left beside the failover pair: %q", got)
					}
					if got := failoverTarget(t, env, cfg, "primary"); got != cfg.Recover.DNS.PrimaryTarget {
						t.Fatalf("PRIMARY record -> %q after failover, want the untouched %q", got, cfg.Recover.DNS.PrimaryTarget)
					}
					if got := failoverTarget(t, env, cfg, "secondary"); got != first.LoadBalancerDNS {
						t.Fatalf("SECONDARY record -> %q, want the prepared %q", got, first.LoadBalancerDNS)
					}
				}
				rep := r.BuildReport(j)
				if rep.RTOSeconds <= 0 || len(rep.Points) != 2 || rep.Points[0].RPOSeconds <= 0 || len(rep.Resources) < 4 {
					t.Fatalf("report: %+v", rep)
				}
				// The failover made the NAT gateway and its address: the
				// report's created list names both, for teardown and cost.
				made := map[string]bool{}
				for _, res := range rep.Resources {
					made[res.Type] = res.ID != ""
				}
				if r.ownsEgress() && (!made["nat-gateway"] || !made["elastic-ip"]) {
					t.Fatalf("report's created list lacks the NAT gateway or its Elastic IP: %+v", rep.Resources)
				}

				tg, err := r.TeardownGraph(TeardownOptions{Force: true})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover); err != nil {
					t.Fatalf("teardown: %v", err)
				}
				c = counts(t, env, cfg.DR.Region)
				wantLB := 0
				if mode == spec.DNSFailoverRecords {
					wantLB = 1 // the prepared DR load balancer stays
				}
				if c["db"] != 0 || c["cache"] != 0 || c["asg"] != 0 || c["lt"] != 0 || c["nat"] != 0 || c["lb"] != wantLB || c["tg"] != wantLB || c["vpc"] != 1 {
					t.Fatalf("DR region after teardown: %v", c)
				}
				sg, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(foreign.GroupId)}})
				if err != nil || len(sg.SecurityGroups) != 1 {
					t.Fatalf("foreign security group gone: %v", err)
				}
			})
		}
	}
}

func outputsOf(j *runbook.Journal) map[string]runbook.Outputs {
	out := map[string]runbook.Outputs{}
	for _, s := range j.Steps {
		out[s.ID] = s.Outputs
	}
	return out
}

// TestFailoverWithPrimaryRegionDead kills the primary region in the fault
// proxy, with the global control planes whose home it is, and fails over.
func TestFailoverWithPrimaryRegionDead(t *testing.T) {
	moto := testenv.Shared(t)
	for _, pair := range pairs {
		for _, mode := range []string{spec.DNSFailoverRecords, spec.DNSUpsert} {
			t.Run(pair.primary+"->"+pair.dr+"/"+mode, func(t *testing.T) {
				t.Parallel()
				acct := moto.NewAccount(t)
				proxy, err := testenv.NewProxy(acct.URL, 1)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(proxy.Close)
				env := testenv.AWS(t, proxy.URL)
				cfg := testConfig(t, pair.primary, pair.dr, mode)
				ctx := ctxTimeout(t)
				seedProduction(t, env, cfg)
				if _, err := Prepare(ctx, cfg, env); err != nil {
					t.Fatal(err)
				}

				proxy.KillRegion(cfg.Primary.Region)
				proxy.ResetCalls()
				store := openStore(t, cfg)
				r := New(cfg, env, Options{Wait: fastWait})
				g, _ := r.Graph()
				j, err := run(t, ctx, store, cfg, g, KindFailover)

				r53Home := partition.HomeOf("route53", cfg.Primary.Region)
				if mode == spec.DNSUpsert && r53Home == cfg.Primary.Region {
					// The one thing that cannot work: the DNS step fails,
					// naming the control plane and the fix, after the rest is up.
					if err == nil {
						t.Fatal("upsert with Route 53's home dead succeeded")
					}
					for _, s := range j.Steps {
						if s.ID == StepDNS {
							if s.Phase != runbook.PhaseFailed || !strings.Contains(s.Error, "Route 53's control plane") || !strings.Contains(s.Error, "failover-records") {
								t.Fatalf("dns step: %s %s", s.Phase, s.Error)
							}
						} else if s.Phase != runbook.PhaseDone {
							t.Fatalf("step %s: %s %s", s.ID, s.Phase, s.Error)
						}
					}
					if _, warn := DNSDependsOnPrimary(cfg); !warn {
						t.Fatal("plan would not warn")
					}
				} else if err != nil {
					t.Fatalf("failover with %s dead: %v", cfg.Primary.Region, err)
				}
				var dead []testenv.Call
				for _, c := range proxy.Calls() {
					if c.Region == cfg.Primary.Region && !(mode == spec.DNSUpsert && c.Service == "route53") {
						dead = append(dead, c)
					}
				}
				if len(dead) > 0 {
					t.Fatalf("failover called the dead primary region: %+v", dead)
				}
				for _, c := range proxy.Calls() {
					if c.Service == "iam" {
						t.Fatalf("failover called IAM: %+v", c)
					}
				}
			})
		}
	}
}

// TestDrillIsIsolated: a drill builds its own suffixed stack beside the
// prepared one, touches no production record, and its teardown leaves the
// drill record gone and nothing of the drill behind.
func TestDrillIsIsolated(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	before := counts(t, env, cfg.DR.Region)
	store := openStore(t, cfg)
	r := New(cfg, env, Options{Kind: KindDrill, Wait: fastWait})
	g, _ := r.Graph()
	j, err := run(t, ctx, store, cfg, g, KindDrill)
	if err != nil {
		t.Fatal(err)
	}
	out := outputsOf(j)
	if !strings.HasSuffix(out[StepDatabase]["db_id"], "-drill") || !strings.HasSuffix(out[StepApp]["asg"], "-drill") {
		t.Fatalf("drill names: %v %v", out[StepDatabase], out[StepApp])
	}
	if got := recordTarget(t, env, cfg.DR.Region, "example.com", "drill.example.com"); got != out[StepLoadBalancer]["lb_dns"] {
		t.Fatalf("drill record -> %q", got)
	}
	if got := failoverTarget(t, env, cfg, "primary"); got != cfg.Recover.DNS.PrimaryTarget {
		t.Fatalf("production record changed by a drill: %q", got)
	}
	tg, _ := r.TeardownGraph(TeardownOptions{})
	if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindDrill); err != nil {
		t.Fatal(err)
	}
	if after := counts(t, env, cfg.DR.Region); after["db"] != before["db"] || after["asg"] != 0 || after["lb"] != before["lb"] || after["cache"] != 0 {
		t.Fatalf("drill left resources: before %v after %v", before, after)
	}
	if got := recordTarget(t, env, cfg.DR.Region, "example.com", "drill.example.com"); got != "" {
		t.Fatalf("drill record left: %q", got)
	}
}

// TestTeardownNetwork removes what prepare made, keeping a VPC that holds
// someone else's resources.
func TestTeardownNetwork(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	res, err := Prepare(ctx, cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	r := New(cfg, env, Options{Wait: fastWait})
	tg, _ := r.TeardownGraph(TeardownOptions{Network: true})
	j, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover)
	// moto lacks DeleteCacheSubnetGroup (HTTP 500, MOTO.md): the network
	// step must name exactly that, having deleted everything else.
	if err != nil && !strings.Contains(err.Error(), "cache subnet group") {
		t.Fatalf("teardown --network: %v", err)
	}
	_ = j
	c := counts(t, env, cfg.DR.Region)
	if c["vpc"] != 0 || c["lb"] != 0 || c["tg"] != 0 {
		t.Fatalf("prepared network left: %v", c)
	}
	left, err := ec2.NewFromConfig(env.For(cfg.DR.Region)).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{res.Network.VPC}}}})
	if err != nil || len(left.Subnets) != 0 {
		t.Fatalf("subnets left: %v %v", left, err)
	}
	if got := recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com"); got != cfg.Recover.DNS.PrimaryTarget {
		t.Fatalf("after teardown --network the record points at %q, want production %q", got, cfg.Recover.DNS.PrimaryTarget)
	}
	zs, _ := route53.NewFromConfig(env.For(cfg.DR.Region)).ListHealthChecks(context.Background(), &route53.ListHealthChecksInput{})
	if len(zs.HealthChecks) != 0 {
		t.Fatalf("health checks left: %d", len(zs.HealthChecks))
	}
}

func TestSubnetCIDRMatchesTerraform(t *testing.T) {
	cases := []struct {
		prefix      string
		newbits, nr int
		want        string
	}{
		{"10.1.0.0/16", 8, 0, "10.1.0.0/24"},
		{"10.1.0.0/16", 8, 101, "10.1.101.0/24"},
		{"10.1.0.0/16", 8, 201, "10.1.201.0/24"},
		{"10.16.0.0/20", 8, 200, "10.16.12.128/28"},
	}
	for _, c := range cases {
		got, err := subnetCIDR(mustPrefix(t, c.prefix), c.newbits, c.nr)
		if err != nil || got.String() != c.want {
			t.Errorf("cidrsubnet(%s,%d,%d) = %v %v, want %s", c.prefix, c.newbits, c.nr, got, err, c.want)
		}
	}
}

func TestALBZonesKnownForBothChinaRegions(t *testing.T) {
	for region, want := range map[string]string{"cn-north-1": "Z1GDH35T77C1KE", "cn-northwest-1": "ZM7IZAIOVVDZF", "us-east-1": "Z35SXDOTRQ7X7K"} {
		if got, err := ALBZone(region); err != nil || got != want {
			t.Errorf("%s: %s %v", region, got, err)
		}
	}
	if _, err := ALBZone("moon-1"); err == nil {
		t.Error("unknown region accepted")
	}
}

func TestUserDataUnknownVariableFailsAtPlan(t *testing.T) {
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	if err := CheckUserData(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Recover.App.Vars = nil
	if err := CheckUserData(cfg); err == nil || !strings.Contains(err.Error(), "db_user") {
		t.Fatalf("missing var not caught: %v", err)
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAppPolicyReadsStackParametersAndItsBuckets: one role serves the app
// in both regions, so it allows the replica (after a failover) and the
// source (after a failback), and nothing beyond them and the stack's
// parameters.
func TestAppPolicyReadsStackParametersAndItsBuckets(t *testing.T) {
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSUpsert)
	p, _ := partition.Of(cfg.DR.Region)
	doc := appPolicy(cfg, p)
	b := cfg.Protect.Buckets[0]
	for _, want := range []string{`"arn:aws-cn:ssm:*:*:parameter/shop/*"`, `"arn:aws-cn:s3:::` + b.Replica + `/*"`, `"arn:aws-cn:s3:::` + b.Source + `/*"`} {
		if !strings.Contains(doc, want) {
			t.Fatalf("app policy lacks %s:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, `"*"`) || strings.Contains(doc, `s3:::*`) {
		t.Fatalf("app policy grants beyond the stack's buckets and parameters:\n%s", doc)
	}
	swapped := *cfg
	swapped.Protect.Buckets = []spec.Bucket{{Name: b.Name, Source: b.Replica, Replica: b.Source}}
	if appPolicy(&swapped, p) != doc {
		t.Fatal("the failback's swapped config writes another policy: prepare after failback would change it back")
	}
	// The hand-off's endpoints are under /shop/; a secret kept elsewhere
	// and encrypted with a DR key is readable too, through SSM only.
	for _, n := range []names{newNames(cfg, ""), newNames(cfg, "drill")} {
		if !strings.HasPrefix(n.dbEndpointParameter(), "/shop/") || !strings.HasPrefix(n.cacheEndpointParameter(), "/shop/") {
			t.Fatalf("endpoint parameters %s, %s are not under the stack's prefix", n.dbEndpointParameter(), n.cacheEndpointParameter())
		}
	}
	cfg.Protect.Parameters = []spec.Parameter{{Name: "/shared/api-key", DRKMSKey: "alias/dr"}}
	doc = appPolicy(cfg, p)
	for _, want := range []string{`"arn:aws-cn:ssm:*:*:parameter/shared/api-key"`, `"kms:Decrypt"`, `"kms:ViaService":"ssm.cn-north-1.amazonaws.com.cn"`} {
		if !strings.Contains(doc, want) {
			t.Fatalf("app policy lacks %s:\n%s", want, doc)
		}
	}
}
