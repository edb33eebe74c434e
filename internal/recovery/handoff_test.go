package recovery

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// handoffTmpl reads the endpoints at boot, as examples/wordpress does.
const handoffTmpl = `#!/bin/bash
DB_PARAM={{ .DBEndpointParameter }} CACHE_PARAM={{ .CacheEndpointParameter }}
DB={{ .DBHost }}:{{ .DBPort }} REGION={{ .Region }}
`

func useHandoffTemplate(t testing.TB, cfg *spec.Config) {
	t.Helper()
	if err := os.WriteFile(cfg.RelPath(cfg.Recover.App.UserData), []byte(handoffTmpl), 0o600); err != nil {
		t.Fatal(err)
	}
}

func parameter(t *testing.T, env *awsenv.Env, region, name string) string {
	t.Helper()
	out, err := ssm.NewFromConfig(env.For(region)).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return ""
	}
	return aws.ToString(out.Parameter.Value)
}

// TestAppBootsWhileTheDatabaseRestores holds the DR restore call in the
// fault proxy (moto restores at once; on AWS it takes minutes to hours)
// and checks that the app's auto scaling group is launched while it is
// held: the app no longer waits for the database. Once released, the
// endpoint is in SSM for the app, the journal shows the app step starting
// before the database step ended, and teardown removes the parameters.
func TestAppBootsWhileTheDatabaseRestores(t *testing.T) {
	moto := testenv.Shared(t)
	acct := moto.NewAccount(t)
	proxy, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := testenv.AWS(t, proxy.URL)
	cfg := testConfig(t, "cn-northwest-1", "cn-north-1", spec.DNSFailoverRecords)
	useHandoffTemplate(t, cfg)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	dr := cfg.DR.Region
	hold := proxy.HoldFirst(testenv.Match{Region: dr, Service: "rds", Action: "RestoreDBInstanceFromDBSnapshot"})
	t.Cleanup(hold.Release)
	// moto's targets turn healthy with no database behind them, so the app
	// step would go on to settle the grace period while the restore is
	// held: hold that too, to read the grace the group booted with.
	settle := proxy.HoldFirst(testenv.Match{Region: dr, Service: "autoscaling", Action: "UpdateAutoScalingGroup"})
	t.Cleanup(settle.Release)

	store := openStore(t, cfg)
	r := New(cfg, env, Options{Wait: fastWait})
	g, err := r.Graph()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range g.Steps() {
		if s.ID == StepLaunchTemplate && (contains(s.Needs, StepDatabase) || contains(s.Needs, StepCache)) {
			t.Fatalf("launch template still needs %v", s.Needs)
		}
	}
	type result struct {
		j   *runbook.Journal
		err error
	}
	done := make(chan result, 1)
	go func() {
		j, err := run(t, ctx, store, cfg, g, KindFailover)
		done <- result{j, err}
	}()
	select {
	case <-hold.Reached():
	case <-ctx.Done():
		t.Fatal("the restore was never called")
	}
	// While the restore is held, the app's group comes up with instances.
	asg := autoscaling.NewFromConfig(env.For(dr))
	grace := func() int32 {
		out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{r.n.asg()}})
		if err != nil || len(out.AutoScalingGroups) == 0 {
			t.Fatalf("describe the app's group: %v", err)
		}
		return aws.ToInt32(out.AutoScalingGroups[0].HealthCheckGracePeriod)
	}
	_, err = waitFor(ctx, waitPolicy{First: 20 * time.Millisecond, Max: 200 * time.Millisecond, Timeout: 30 * time.Second}, "the app's group", func(ctx context.Context) (int, bool, error) {
		out, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{r.n.asg()}})
		if err != nil || len(out.AutoScalingGroups) == 0 {
			return 0, false, err
		}
		n := len(out.AutoScalingGroups[0].Instances)
		return n, n > 0, nil
	})
	if err != nil {
		t.Fatalf("app not launched while the restore was running: %v", err)
	}
	// Its instances wait for the database: health checks must not replace
	// them meanwhile.
	if g := grace(); g != 3600 {
		t.Fatalf("health-check grace while the database restores: %d s", g)
	}
	if got := parameter(t, env, dr, r.n.dbEndpointParameter()); got != "" {
		t.Fatalf("DB endpoint %q published before the restore was even accepted", got)
	}
	hold.Release()
	settle.Release()
	res := <-done
	if res.err != nil {
		t.Fatalf("failover: %v", res.err)
	}
	select {
	case <-settle.Reached():
	default:
		t.Fatal("the grace period was never settled")
	}
	if g := grace(); g != 300 {
		t.Fatalf("health-check grace once serving: %d s", g)
	}
	steps := map[string]runbook.StepRecord{}
	for _, s := range res.j.Steps {
		steps[s.ID] = s
	}
	if app, db := steps[StepApp], steps[StepDatabase]; !app.Start.Before(db.End) {
		t.Fatalf("app step started %s, database step ended %s", app.Start, db.End)
	}
	out := outputsOf(res.j)
	wantDB := out[StepDatabase]["db_host"] + ":" + out[StepDatabase]["db_port"]
	wantCache := out[StepCache]["cache_host"] + ":" + out[StepCache]["cache_port"]
	if got := parameter(t, env, dr, "/shop/recovery/db-endpoint"); got != wantDB || wantDB == ":" {
		t.Fatalf("db endpoint parameter %q, want %q", got, wantDB)
	}
	if got := parameter(t, env, dr, "/shop/recovery/cache-endpoint"); got != wantCache || wantCache == ":" {
		t.Fatalf("cache endpoint parameter %q, want %q", got, wantCache)
	}
	ud := userData(t, env, dr, out[StepLaunchTemplate]["launch_template_name"])
	// Values are shell-quoted where they land (spec.RenderUserData).
	if !strings.Contains(ud, "DB_PARAM='/shop/recovery/db-endpoint' ") || !strings.Contains(ud, "DB='':'' ") {
		t.Fatalf("user-data does not hand off through SSM:\n%s", ud)
	}
	if c := handoffCheck(ctx, r, outputsOfJournal(res.j)); !c.Pass {
		t.Fatalf("hand-off check: %+v", c)
	}

	tg, err := r.TeardownGraph(TeardownOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindFailover); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	for _, p := range []string{"/shop/recovery/db-endpoint", "/shop/recovery/cache-endpoint"} {
		if got := parameter(t, env, dr, p); got != "" {
			t.Fatalf("teardown left %s = %q", p, got)
		}
	}
}

// TestDrillHandoffBesideFailover: a drill's parameters carry its suffix,
// so that a drill run beside a failover never points the failover's app at
// the drill's database, and the drill's teardown leaves the failover's.
func TestDrillHandoffBesideFailover(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSFailoverRecords)
	useHandoffTemplate(t, cfg)
	ctx := ctxTimeout(t)
	seedProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	store := openStore(t, cfg)
	fo := New(cfg, env, Options{Wait: fastWait})
	g, _ := fo.Graph()
	jf, err := run(t, ctx, store, cfg, g, KindFailover)
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	drill := New(cfg, env, Options{Kind: KindDrill, Wait: fastWait})
	g, _ = drill.Graph()
	jd, err := run(t, ctx, store, cfg, g, KindDrill)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	dr := cfg.DR.Region
	fdb, ddb := outputsOf(jf)[StepDatabase]["db_host"], outputsOf(jd)[StepDatabase]["db_host"]
	if fdb == ddb {
		t.Fatalf("drill and failover share the DB host %s", fdb)
	}
	if got := parameter(t, env, dr, "/shop/recovery/db-endpoint"); !strings.HasPrefix(got, fdb+":") {
		t.Fatalf("failover's parameter %q, want its DB %s", got, fdb)
	}
	if got := parameter(t, env, dr, "/shop/recovery/db-endpoint-drill"); !strings.HasPrefix(got, ddb+":") {
		t.Fatalf("drill's parameter %q, want its DB %s", got, ddb)
	}
	tg, _ := drill.TeardownGraph(TeardownOptions{})
	if _, err := run(t, ctx, store, cfg, tg, "teardown-"+KindDrill); err != nil {
		t.Fatalf("drill teardown: %v", err)
	}
	if got := parameter(t, env, dr, "/shop/recovery/db-endpoint-drill"); got != "" {
		t.Fatalf("drill teardown left its parameter: %q", got)
	}
	if got := parameter(t, env, dr, "/shop/recovery/db-endpoint"); got == "" {
		t.Fatal("drill teardown deleted the failover's parameter")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
