package recovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
// target group counts a redirect as healthy, the grace period is the
// configured one, and a DR certificate gives the load balancer HTTPS.
func TestTargetGroupMatcherAndGrace(t *testing.T) {
	moto := testenv.Shared(t)
	acctURL := moto.NewAccount(t).URL
	env := testenv.AWS(t, acctURL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	cfg.Recover.App.LoadBalancer.HealthCheckGrace = spec.Duration{Raw: "15m", D: 15 * 60e9}
	ctx := ctxTimeout(t)
	cert := requestCertificate(t, ctx, env.For(cfg.DR.Region), acctURL)
	cfg.Recover.App.LoadBalancer.CertificateARN = cert
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
	ls, err := elb.NewFromConfig(env.For(cfg.DR.Region)).DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbOf(t, env, cfg.DR.Region, "shop-app")})
	https := false
	for _, l := range ls.Listeners {
		if aws.ToInt32(l.Port) == 443 && l.Protocol == "HTTPS" && len(l.Certificates) == 1 && aws.ToString(l.Certificates[0].CertificateArn) == cert {
			https = true
		}
	}
	if err != nil || !https {
		t.Fatalf("no HTTPS listener with %s: %+v %v", cert, ls, err)
	}
	asgs, err := autoscaling.NewFromConfig(env.For(cfg.DR.Region)).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"shop-app"}})
	if err != nil || len(asgs.AutoScalingGroups) != 1 || aws.ToInt32(asgs.AutoScalingGroups[0].HealthCheckGracePeriod) != 900 {
		t.Fatalf("grace period: %+v %v", asgs, err)
	}
}

func lbOf(t testing.TB, env interface{ For(string) aws.Config }, region, name string) *string {
	t.Helper()
	out, err := elb.NewFromConfig(env.For(region)).DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil || len(out.LoadBalancers) != 1 {
		t.Fatalf("load balancer %s: %v", name, err)
	}
	return out.LoadBalancers[0].LoadBalancerArn
}

// requestCertificate makes an ACM certificate in moto (ELB checks the
// listener's certificate exists). The module has no ACM client, so this is
// one signed JSON call.
func requestCertificate(t testing.TB, ctx context.Context, cfg aws.Config, endpoint string) string {
	t.Helper()
	body := `{"DomainName":"shop.example.com","ValidationMethod":"DNS"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "CertificateManager.RequestCertificate")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "acm", cfg.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ CertificateArn string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.CertificateArn == "" {
		t.Fatalf("request certificate: %s %v", resp.Status, err)
	}
	return out.CertificateArn
}
