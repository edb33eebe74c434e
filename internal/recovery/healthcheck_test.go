package recovery

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// pagedRoute53 answers ListHealthChecks 100 at a time, as Route 53 does
// (moto returns all at once): the stack's check sits on the third page.
type pagedRoute53 struct {
	route53API
	checks []r53types.HealthCheck
	calls  int
}

func (p *pagedRoute53) ListHealthChecks(_ context.Context, in *route53.ListHealthChecksInput, _ ...func(*route53.Options)) (*route53.ListHealthChecksOutput, error) {
	p.calls++
	start := 0
	if in.Marker != nil {
		fmt.Sscan(aws.ToString(in.Marker), &start)
	}
	end := min(start+100, len(p.checks))
	out := &route53.ListHealthChecksOutput{HealthChecks: p.checks[start:end], MaxItems: aws.Int32(100)}
	if end < len(p.checks) {
		out.IsTruncated, out.NextMarker = true, aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// TestHealthChecksAreFoundPastTheFirstPage (real-AWS review, pagination):
// an account with more than 100 health checks must not hide the stack's.
func TestHealthChecksAreFoundPastTheFirstPage(t *testing.T) {
	p := &pagedRoute53{}
	for i := range 250 {
		p.checks = append(p.checks, r53types.HealthCheck{Id: aws.String(fmt.Sprintf("other-%d", i)), CallerReference: aws.String(fmt.Sprintf("someone-%d", i))})
	}
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	want := primaryCheckConfig(cfg)
	p.checks[230] = r53types.HealthCheck{Id: aws.String("ours"), CallerReference: aws.String(healthCheckRefPrefix("shop", "primary", want) + "x")}
	checks, err := listHealthChecks(context.Background(), dnsClients{r53: p})
	if err != nil || len(checks) != 250 || p.calls != 3 {
		t.Fatalf("listed %d checks in %d calls: %v", len(checks), p.calls, err)
	}
	var ch changes
	id, err := ensureHealthCheck(context.Background(), dnsClients{r53: p}, checks, "shop", "primary", want, &ch)
	if err != nil || id != "ours" || len(ch.list) != 0 {
		t.Fatalf("found %q (changes %v, %v), want the existing check on page 3", id, ch.list, err)
	}
}

// TestHealthCheckSettings (real-AWS review findings 10, 11): HTTPS with SNI
// on 443 when asked, HTTP on 80 by default.
func TestHealthCheckSettings(t *testing.T) {
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	hc := primaryCheckConfig(cfg)
	if hc.Type != r53types.HealthCheckTypeHttp || aws.ToInt32(hc.Port) != 80 || aws.ToString(hc.FullyQualifiedDomainName) != cfg.Recover.DNS.PrimaryTarget {
		t.Fatalf("default check: %+v", hc)
	}
	cfg.Recover.DNS.HealthCheck = spec.HealthCheck{Protocol: "https", Path: "/healthz", Host: "origin.example.com"}
	hc = primaryCheckConfig(cfg)
	if hc.Type != r53types.HealthCheckTypeHttps || aws.ToInt32(hc.Port) != 443 || !aws.ToBool(hc.EnableSNI) ||
		aws.ToString(hc.ResourcePath) != "/healthz" || aws.ToString(hc.FullyQualifiedDomainName) != "origin.example.com" {
		t.Fatalf("https check: %+v", hc)
	}
	if healthCheckRefPrefix("shop", "primary", hc) == healthCheckRefPrefix("shop", "primary", primaryCheckConfig(testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords))) {
		t.Fatal("changed settings keep the same reference: the old check would be reused")
	}
	if n := len(healthCheckRefPrefix("abcdefghijklmnopqrstuvwxyz01234", "primary", hc)) + 9; n > 64 {
		t.Fatalf("caller reference of a 31-character stack is %d characters; Route 53 allows 64", n)
	}
}

// TestTargetGroupMatcherAndGrace (real-AWS review finding 11): the DR
// target group counts a redirect as healthy, and the grace period is the
// configured one.
func TestTargetGroupMatcherAndGrace(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	cfg.Recover.App.LoadBalancer.HealthCheckGrace = spec.Duration{Raw: "15m", D: 15 * 60e9}
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
	if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
		t.Fatalf("failover: %v", err)
	}
	tgs, err := elb.NewFromConfig(env.For(cfg.DR.Region)).DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"shop-app"}})
	if err != nil || len(tgs.TargetGroups) != 1 || tgs.TargetGroups[0].Matcher == nil || aws.ToString(tgs.TargetGroups[0].Matcher.HttpCode) != "200-399" {
		t.Fatalf("target group matcher: %+v %v", tgs, err)
	}
	asgs, err := autoscaling.NewFromConfig(env.For(cfg.DR.Region)).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"shop-app"}})
	if err != nil || len(asgs.AutoScalingGroups) != 1 || aws.ToInt32(asgs.AutoScalingGroups[0].HealthCheckGracePeriod) != 900 {
		t.Fatalf("grace period: %+v %v", asgs, err)
	}
}
