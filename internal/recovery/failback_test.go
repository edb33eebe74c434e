package recovery

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverThenFailback: after a failover and an object written to the
// DR bucket during the outage, failback leaves DNS pointing at a new load
// balancer in the primary region, the object in the primary bucket, and no
// DR stack.
func TestFailoverThenFailback(t *testing.T) {
	moto := testenv.Shared(t)
	for _, c := range []struct{ primary, dr, mode string }{
		{"us-east-1", "us-west-2", spec.DNSUpsert},
		{"cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords},
	} {
		t.Run(c.primary+"/"+c.mode, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, c.primary, c.dr, c.mode)
			ctx := ctxTimeout(t)
			seedProduction(t, env, cfg)
			if _, err := Prepare(ctx, cfg, env); err != nil {
				t.Fatal(err)
			}
			store := openStore(t, cfg)
			g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
			if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
				t.Fatal(err)
			}
			b := cfg.Protect.Buckets[0]
			dr := s3.NewFromConfig(env.For(cfg.DR.Region), func(o *s3.Options) { o.UsePathStyle = true })
			if _, err := dr.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Replica), Key: aws.String("uploads/during-outage.jpg"), Body: strings.NewReader("written in DR")}); err != nil {
				t.Fatal(err)
			}

			f := NewFailback(cfg, env, Options{Wait: fastWait})
			fg, err := f.Graph()
			if err != nil {
				t.Fatal(err)
			}
			j, err := run(t, ctx, store, cfg, fg, KindFailback)
			if err != nil {
				t.Fatalf("failback: %v", err)
			}
			out := outputsOf(j)
			lbDNS := out[StepLoadBalancer]["lb_dns"]
			if !strings.Contains(lbDNS, cfg.Primary.Region) && lbDNS == "" {
				t.Fatalf("no primary load balancer: %v", out[StepLoadBalancer])
			}
			if got := counts(t, env, cfg.Primary.Region); got["db"] < 2 || got["asg"] != 1 || got["lb"] != 1 {
				t.Fatalf("primary after failback (old DB kept + new one): %v", got)
			}
			switch c.mode {
			case spec.DNSUpsert:
				if got := recordTarget(t, env, cfg.DR.Region, "example.com", "shop.example.com"); got != lbDNS {
					t.Fatalf("record -> %q, want the primary's new load balancer %q", got, lbDNS)
				}
			case spec.DNSFailoverRecords:
				if got := failoverTarget(t, env, cfg, "primary"); got != lbDNS {
					t.Fatalf("PRIMARY failover record -> %q, want %q", got, lbDNS)
				}
			}
			if got := counts(t, env, cfg.DR.Region); got["db"] != 0 || got["cache"] != 0 || got["asg"] != 0 || got["lt"] != 0 {
				t.Fatalf("DR stack left after failback: %v", got)
			}
			src := s3.NewFromConfig(env.For(cfg.Primary.Region), func(o *s3.Options) { o.UsePathStyle = true })
			obj, err := src.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Source), Key: aws.String("uploads/during-outage.jpg")})
			if err != nil {
				t.Fatalf("object written during the outage is not in the primary bucket: %v", err)
			}
			body, _ := io.ReadAll(obj.Body)
			if string(body) != "written in DR" {
				t.Fatalf("object body %q", body)
			}
		})
	}
}

func failoverTarget(t *testing.T, env interface {
	For(string) aws.Config
}, cfg *spec.Config, id string) string {
	t.Helper()
	ctx := context.Background()
	c := route53.NewFromConfig(env.For(cfg.DR.Region))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.com.")})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatal(err)
	}
	rrs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs.ResourceRecordSets {
		if aws.ToString(rr.SetIdentifier) == id {
			if rr.AliasTarget != nil {
				return strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), ".")
			}
			return aws.ToString(rr.ResourceRecords[0].Value)
		}
	}
	return ""
}
