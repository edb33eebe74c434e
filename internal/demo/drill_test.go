package demo_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/demo"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestDrillOnTheReferenceStack: the seed's WordPress production (built as a
// team would have it, untagged by pilotlight), protected with the verbs a
// user runs, then `pilotlight drill`: every check passes, no drill resource
// is left, the production record is untouched, and the HTML report renders
// in Chromium naming every step.
func TestDrillOnTheReferenceStack(t *testing.T) {
	moto := testenv.Shared(t)
	t.Parallel()
	acct := moto.NewAccount(t)
	env := testenv.AWS(t, acct.URL)
	ctx := ctxTimeout(t)
	cfg, err := demo.WriteConfig(t.TempDir(), demo.ConfigOptions{BucketSuffix: "-" + acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := demo.BuildProduction(ctx, env, cfg, demo.BuildOptions{Objects: 20})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = demo.WriteConfig(t.TempDir(), demo.ConfigOptions{PrimaryTarget: prod.LoadBalancerDNS, BucketSuffix: "-" + acct.ID})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		app := &cli.App{Stdout: &out, Stderr: &errb, EnvOptions: testenv.Options(acct.URL)}
		if code := cli.RunApp(context.Background(), app, append(args, "--config", cfg.File)); code != 0 {
			t.Fatalf("pilotlight %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	run("replicate", "setup")
	run("replicate", "sync")
	run("backup")
	run("prepare")
	out := run("drill", "--yes")
	if !strings.Contains(out, "drill PASSED") || strings.Contains(out, "FAIL ") {
		t.Fatalf("drill on the reference stack:\n%s", out)
	}
	asgs, err := autoscaling.NewFromConfig(env.For(cfg.DR.Region)).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(asgs.AutoScalingGroups) != 0 {
		t.Fatalf("drill left %d auto scaling groups in %s", len(asgs.AutoScalingGroups), cfg.DR.Region)
	}
	if got := primaryRecord(t, ctx, env, cfg.Recover.DNS.Zone); got != prod.LoadBalancerDNS {
		t.Fatalf("production record -> %q after a drill, want %q", got, prod.LoadBalancerDNS)
	}
	html := regexp.MustCompile(`HTML report: (\S+)`).FindStringSubmatch(out)
	if html == nil {
		t.Fatalf("no report path:\n%s", out)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install chromium; .ci/run installs it): the rendering check is skipped")
	}
	dom, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--dump-dom", "file://"+html[1]).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, s := range []string{recovery.StepPoints, recovery.StepNetwork, recovery.StepDatabase, recovery.StepCache, recovery.StepLoadBalancer,
		recovery.StepEgress, recovery.StepLaunchTemplate, recovery.StepApp, recovery.StepDNS} {
		if !strings.Contains(string(dom), ">"+s+"<") {
			t.Fatalf("rendered report does not name step %s", s)
		}
	}
	if !strings.Contains(string(dom), `id="verdict">PASSED`) {
		t.Fatal("rendered report does not say PASSED")
	}
}

// primaryRecord is where the production name points: the PRIMARY failover
// record in failover-records mode, else the simple record.
func primaryRecord(t *testing.T, ctx context.Context, env *awsenv.Env, zone string) string {
	t.Helper()
	c := route53.NewFromConfig(env.For("cn-north-1"))
	zs, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(zone + ".")})
	if err != nil || len(zs.HostedZones) == 0 {
		t.Fatalf("zone %s: %v", zone, err)
	}
	rrs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: zs.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	plain := ""
	for _, rr := range rrs.ResourceRecordSets {
		target := ""
		if rr.AliasTarget != nil {
			target = strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), ".")
		} else if len(rr.ResourceRecords) > 0 {
			target = aws.ToString(rr.ResourceRecords[0].Value)
		}
		if aws.ToString(rr.SetIdentifier) == "primary" {
			return target
		}
		if strings.HasPrefix(aws.ToString(rr.Name), "blog.") && rr.SetIdentifier == nil {
			plain = target
		}
	}
	return plain
}
