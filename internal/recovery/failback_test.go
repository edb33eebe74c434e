package recovery

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestFailoverThenFailback: after a failover and writes to the DR bucket
// during the outage, right up to the freeze, failback leaves DNS pointing
// at a new load balancer in the primary region, every object in the
// source bucket, the app reading the source bucket, the DB moved by a
// promoted read replica, no DR app serving between the freeze and the DNS
// switch, and no DR stack.
func TestFailoverThenFailback(t *testing.T) {
	moto := testenv.Shared(t)
	for _, c := range []struct{ primary, dr, mode string }{
		{"us-east-1", "us-west-2", spec.DNSUpsert},
		{"cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords},
	} {
		t.Run(c.primary+"/"+c.mode, func(t *testing.T) {
			t.Parallel()
			proxy, err := testenv.NewProxy(moto.NewAccount(t).URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proxy.Close)
			env := promotingEnv(t, proxy.URL)
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
			put := func(key string) {
				t.Helper()
				if _, err := dr.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Replica), Key: aws.String(key), Body: strings.NewReader("written in DR")}); err != nil {
					t.Fatal(err)
				}
			}
			put("uploads/during-outage.jpg")

			// The freeze's call to the DR auto scaling group and the DNS
			// switch are held, so that the test writes to DR after the first
			// copy back (the DR app still serves then) and looks at DR just
			// before users move.
			freeze := proxy.HoldFirst(testenv.Match{Region: cfg.DR.Region, Service: "autoscaling", Action: "UpdateAutoScalingGroup"})
			switchDNS := proxy.HoldFirst(testenv.Match{Service: "route53", Action: "ChangeResourceRecordSets"})
			stopLag := publishReplicaLag(t, env, cfg.Primary.Region, nextFailbackDB(cfg))
			defer stopLag()
			var atSwitch []string
			go func() {
				select {
				case <-freeze.Reached():
				case <-ctx.Done():
					return
				}
				put("uploads/just-before-freeze.jpg")
				freeze.Release()
				select {
				case <-switchDNS.Reached():
				case <-ctx.Done():
					return
				}
				atSwitch = drServing(t, env, cfg)
				switchDNS.Release()
			}()

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
			if len(atSwitch) > 0 {
				t.Fatalf("DR app instances still serving when DNS moved: %v", atSwitch)
			}
			assertNoDRServingAfterFreeze(t, proxy.Calls(), cfg.DR.Region)
			if got := out[StepCatchUpDB]["mode"]; got != "replica" {
				t.Fatalf("a MySQL DR DB should catch up by read replica, got mode %q", got)
			}
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
				// prepare with the config as it was must not move the
				// live record back to the replaced production.
				if _, err := Prepare(ctx, cfg, env); err == nil || !strings.Contains(err.Error(), "primary_target") {
					t.Fatalf("prepare after failback with the old primary_target: %v, want a refusal naming primary_target", err)
				}
				if got := failoverTarget(t, env, cfg, "primary"); got != lbDNS {
					t.Fatalf("prepare moved the PRIMARY record to %q", got)
				}
				fixed := *cfg
				dns := *cfg.Recover.DNS
				dns.PrimaryTarget = lbDNS
				fixed.Recover.DNS = &dns
				if _, err := Prepare(ctx, &fixed, env); err != nil {
					t.Fatalf("prepare with the config failback printed: %v", err)
				}
				if res, err := Prepare(ctx, &fixed, env); err != nil || len(res.Changes) != 0 {
					t.Fatalf("second prepare after failback: %v, changes %v", err, res.Changes)
				}
			}
			if got := counts(t, env, cfg.DR.Region); got["db"] != 0 || got["cache"] != 0 || got["asg"] != 0 || got["lt"] != 0 {
				t.Fatalf("DR stack left after failback: %v", got)
			}
			src := s3.NewFromConfig(env.For(cfg.Primary.Region), func(o *s3.Options) { o.UsePathStyle = true })
			for _, key := range []string{"uploads/during-outage.jpg", "uploads/just-before-freeze.jpg"} {
				obj, err := src.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Source), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("%s, written in DR before the freeze, is not in the source bucket: %v", key, err)
				}
				body, _ := io.ReadAll(obj.Body)
				if string(body) != "written in DR" {
					t.Fatalf("object body %q", body)
				}
			}
			if got := out[StepS3Final][b.Name+"_copied"]; got != "1" {
				t.Fatalf("copied after the freeze = %q, want 1 (the object written after the first copy back)", got)
			}
			sum := f.BuildReport(j).Failback
			if sum == nil || sum.FrozenAt.IsZero() || sum.FreezeSeconds <= 0 || sum.DBMode != "replica" {
				t.Fatalf("report says nothing of the freeze: %+v", sum)
			}
			if !slices.Contains(sum.AfterFreeze, "s3 "+b.Source+": 1 objects") {
				t.Fatalf("report does not say what was copied after the freeze: %v", sum.AfterFreeze)
			}
			if !slices.Contains(sum.OldProduction, Resource{Type: "rds", ID: "shop-db"}) {
				t.Fatalf("report does not list the old production DB: %v", sum.OldProduction)
			}
			var edited []string
			for _, e := range sum.ConfigChanges {
				edited = append(edited, e.String())
			}
			if want := "recover.database.from: shop-db -> " + out[StepDatabase]["db_id"]; !slices.Contains(edited, want) {
				t.Fatalf("config changes %v lack %q", edited, want)
			}
			ud := launchTemplateUserData(t, env, cfg.Primary.Region, out[StepLaunchTemplate]["launch_template"])
			// Values are shell-quoted where they land (spec.RenderUserData).
			if !strings.Contains(ud, "BUCKET='"+b.Source+"' ") || !strings.Contains(ud, "REGION='"+cfg.Primary.Region+"'") {
				t.Fatalf("the primary's user-data should mount the source bucket %s in %s:\n%s", b.Source, cfg.Primary.Region, ud)
			}
		})
	}
}

// drServing lists the DR app instances that could still take a request.
func drServing(t *testing.T, env *awsenv.Env, cfg *spec.Config) []string {
	c := freezeClients{region: cfg.DR.Region, asg: autoscaling.NewFromConfig(env.For(cfg.DR.Region)), elb: elb.NewFromConfig(env.For(cfg.DR.Region)), ec2: ec2.NewFromConfig(env.For(cfg.DR.Region))}
	name := newNames(cfg, "").asg()
	g, err := c.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(g.AutoScalingGroups) == 0 {
		return nil
	}
	ids, err := c.serving(context.Background(), name, g.AutoScalingGroups[0].TargetGroupARNs)
	if err != nil {
		return []string{err.Error()}
	}
	return ids
}

// assertNoDRServingAfterFreeze reads the recorded calls: after the freeze
// scaled the DR app to zero, nothing may bring a DR instance back into
// service before the DNS switch.
func assertNoDRServingAfterFreeze(t *testing.T, calls []testenv.Call, region string) {
	t.Helper()
	frozen := -1
	for i, c := range calls {
		switch {
		case frozen < 0 && c.Region == region && c.Action == "UpdateAutoScalingGroup":
			frozen = i
		case frozen >= 0 && c.Service == "route53" && c.Action == "ChangeResourceRecordSets":
			return
		case frozen >= 0 && c.Region == region && slices.Contains([]string{"UpdateAutoScalingGroup", "SetDesiredCapacity", "CreateAutoScalingGroup", "RunInstances", "StartInstances", "RegisterTargets", "ExitStandby", "ResumeProcesses"}, c.Action):
			t.Fatalf("call %d %s in %s after the freeze and before the DNS switch", i, c.Action, region)
		}
	}
	t.Fatalf("no freeze, or no DNS switch after it, among %d calls", len(calls))
}

// publishReplicaLag stands in for RDS, which moto does not model: RDS
// publishes a read replica's ReplicaLag once a minute, and once writes
// stop it reaches 0. The test publishes that 0 until stopped.
func publishReplicaLag(t testing.TB, env *awsenv.Env, region, id string) (stop func()) {
	cw := cloudwatch.NewFromConfig(env.For(region), func(o *cloudwatch.Options) {
		o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			_, _ = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/RDS"), MetricData: []cwtypes.MetricDatum{{
				MetricName: aws.String("ReplicaLag"), Value: aws.Float64(0), Timestamp: aws.Time(time.Now().UTC()),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("DBInstanceIdentifier"), Value: aws.String(id)}},
			}}})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func launchTemplateUserData(t *testing.T, env *awsenv.Env, region, id string) string {
	t.Helper()
	v, err := ec2.NewFromConfig(env.For(region)).DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Latest"}})
	if err != nil || len(v.LaunchTemplateVersions) == 0 {
		t.Fatalf("launch template %s in %s: %v", id, region, err)
	}
	return decodeUserData(aws.ToString(v.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
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

// promotingEnv is testenv.AWS with one correction of moto, which keeps
// ReadReplicaSourceDBInstanceIdentifier on a promoted replica: RDS drops
// it once the promotion is done, and that is what failback waits for. A
// reverse proxy in front of endpoint rewrites those answers.
func promotingEnv(t *testing.T, endpoint string) *awsenv.Env {
	t.Helper()
	return testenv.AWS(t, promotingEndpoint(t, endpoint))
}

// promotingEndpoint serves endpoint with that correction.
func promotingEndpoint(t testing.TB, endpoint string) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &promotedReplicas{ids: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = p.modify
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Keep the form for modify, which sees only the response.
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type promotedReplicas struct {
	mu  sync.Mutex
	ids map[string]bool
}

var replicaSource = regexp.MustCompile(`<ReadReplicaSourceDBInstanceIdentifier>[^<]*</ReadReplicaSourceDBInstanceIdentifier>`)

func (p *promotedReplicas) modify(resp *http.Response) error {
	r := resp.Request
	if r == nil || r.GetBody == nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return nil
	}
	body, err := r.GetBody()
	if err != nil {
		return nil
	}
	b, _ := io.ReadAll(body)
	form, _ := url.ParseQuery(string(b))
	id := form.Get("DBInstanceIdentifier")
	p.mu.Lock()
	defer p.mu.Unlock()
	switch form.Get("Action") {
	case "PromoteReadReplica":
		if resp.StatusCode == http.StatusOK {
			p.ids[id] = true
		}
	case "DescribeDBInstances":
		if p.ids[id] {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			b = replicaSource.ReplaceAll(b, nil)
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		}
	}
	return nil
}
