package emulator_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/emulator"
)

func TestDNSModelFailsOverOnlyAfterIntervalTimesThreshold(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	k := p.EnableClock(realTime)
	r53 := route53.NewFromConfig(env.For("us-east-1"))
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("z")})
	if err != nil {
		t.Fatal(err)
	}
	const prod, dr = "prod-1.eu-west-1.elb.amazonaws.com", "dr-1.us-west-2.elb.amazonaws.com"
	hc, err := r53.CreateHealthCheck(ctx, &route53.CreateHealthCheckInput{CallerReference: aws.String("hc"), HealthCheckConfig: &r53types.HealthCheckConfig{
		Type: r53types.HealthCheckTypeHttp, FullyQualifiedDomainName: aws.String(prod), Port: aws.Int32(80),
		RequestInterval: aws.Int32(30), FailureThreshold: aws.Int32(3)}})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id string, f r53types.ResourceRecordSetFailover, target string, check *string) r53types.Change {
		return r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("www.example.com"), Type: r53types.RRTypeCname, TTL: aws.Int64(60), SetIdentifier: aws.String(id),
			Failover: f, HealthCheckId: check, ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(target)}}}}
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zone.HostedZone.Id,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{
			rec("primary", r53types.ResourceRecordSetFailoverPrimary, prod, hc.HealthCheck.Id),
			rec("secondary", r53types.ResourceRecordSetFailoverSecondary, dr, nil)}}}); err != nil {
		t.Fatal(err)
	}
	dns := emulator.NewDNS(p, r53)
	resolve := func(at time.Duration) string {
		a, err := dns.Resolve(ctx, *zone.HostedZone.Id, "www.example.com", at)
		if err != nil {
			t.Fatal(err)
		}
		return a.SetIdentifier
	}
	if got := resolve(p.Now()); got != "primary" {
		t.Fatalf("both regions up: %s", got)
	}
	p.KillRegion("eu-west-1")
	down := p.Now()
	if got := resolve(down + 89*time.Second); got != "primary" {
		t.Fatalf("89 s into the outage Route 53 has not yet seen 3 failed 30 s checks; model says %s", got)
	}
	if got := resolve(down + 90*time.Second); got != "secondary" {
		t.Fatalf("after 3 × 30 s of failures: %s", got)
	}
	k.Advance(5 * time.Minute) // the outage lasts five AWS minutes
	p.ReviveRegion("eu-west-1")
	up := p.Now()
	if got := resolve(up + 10*time.Second); got != "secondary" {
		t.Fatalf("just after revival: %s", got)
	}
	if got := resolve(up + 90*time.Second); got != "primary" {
		t.Fatalf("after 3 passing checks: %s", got)
	}
	// A blip shorter than three checks never moves the answer.
	k.Advance(5 * time.Minute)
	p.KillRegion("eu-west-1")
	k.Advance(time.Minute)
	p.ReviveRegion("eu-west-1")
	for _, later := range []time.Duration{0, 30 * time.Second, 5 * time.Minute} {
		if got := resolve(p.Now() + later); got != "primary" {
			t.Fatalf("a 60 s blip, %v after it: %s", later, got)
		}
	}
}
