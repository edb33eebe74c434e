package recovery

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// dryRunEnv is a fresh account behind the fault proxy, which records every
// call a dry run makes.
func dryRunEnv(t *testing.T, primary, dr string) (*spec.Config, *testenv.Proxy, *awsenv.Env) {
	t.Helper()
	proxy, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := testenv.AWS(t, proxy.URL)
	cfg := testConfig(t, primary, dr, spec.DNSFailoverRecords)
	seedProduction(t, env, cfg)
	proxy.ResetCalls()
	return cfg, proxy, env
}

// writes lists the calls since the last reset that are not reads.
func writes(p *testenv.Proxy) []string {
	var out []string
	for _, c := range p.Calls() {
		if !strings.HasPrefix(c.Action, "Describe") && !strings.HasPrefix(c.Action, "List") && !strings.HasPrefix(c.Action, "Get") {
			out = append(out, c.Service+":"+c.Action)
		}
	}
	return out
}

// changeKinds reduces "created vpc vpc-1a2b (10.8.0.0/16)" and "would
// create vpc shop-dr-vpc (10.8.0.0/16)" to the same "create vpc": a dry
// run cannot know the ids a real run is given.
func changeKinds(list []string) []string {
	past := map[string]string{"created": "create", "associated": "associate", "replaced": "replace", "upserted": "upsert", "deleted": "delete", "granted": "grant"}
	var out []string
	for _, c := range list {
		f := strings.Fields(strings.TrimPrefix(c, "would "))
		if len(f) < 2 {
			out = append(out, c)
			continue
		}
		if v, ok := past[f[0]]; ok {
			f[0] = v
		}
		out = append(out, f[0]+" "+f[1])
	}
	slices.Sort(out)
	return out
}

// TestPrepareDryRunListsWhatPrepareDoes (#19, DNS ownership): in a fresh
// account a dry run makes only read calls, lists each change the real run
// then makes (the replaced production record shown old and new), and a dry
// run after the real one says there is nothing to do.
func TestPrepareDryRunListsWhatPrepareDoes(t *testing.T) {
	for _, pair := range []struct{ primary, dr string }{{"cn-northwest-1", "cn-north-1"}, {"us-east-1", "us-west-2"}} {
		t.Run(pair.dr, func(t *testing.T) {
			t.Parallel()
			prepareDryRunThenRun(t, pair.primary, pair.dr)
		})
	}
}

func prepareDryRunThenRun(t *testing.T, primary, dr string) {
	cfg, proxy, env := dryRunEnv(t, primary, dr)
	ctx := ctxTimeout(t)
	before := recordsOf(t, env, cfg.DR.Region, "shop.example.com")

	dry, err := PrepareDryRun(ctx, cfg, env)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if w := writes(proxy); len(w) > 0 {
		t.Fatalf("the dry run changed the account: %v", w)
	}
	if after := recordsOf(t, env, cfg.DR.Region, "shop.example.com"); !reflect.DeepEqual(after, before) {
		t.Fatalf("the dry run changed the production record: %+v", after)
	}
	store, err := state.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Get(ctx, replacedKey(cfg.Stack, cfg.Recover.DNS.Record))
	store.Close()
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("the dry run saved a replaced record in the state store (%v)", err)
	}
	text := strings.Join(dry.Changes, "\n")
	for _, want := range []string{
		"would create vpc", "would create load balancer shop-dr", "would create Route 53", "would create IAM role",
		// The old record, and the new pair pointing at the load balancer to be.
		`would replace the record "shop.example.com. 60 CNAME prod-lb.` + primary + `.example.net"`,
		"would upsert primary failover record", "would upsert secondary failover record",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run does not say %q:\n%s", want, text)
		}
	}

	if usesPin(cfg) && !strings.Contains(text, "would create CloudWatch alarm") {
		t.Errorf("dry run does not create the failover pin:\n%s", text)
	}

	proxy.ResetCalls()
	real, err := Prepare(ctx, cfg, env)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if len(writes(proxy)) == 0 {
		t.Fatal("fixture: the real prepare made no change")
	}
	if got, want := changeKinds(dry.Changes), changeKinds(real.Changes); !reflect.DeepEqual(got, want) {
		t.Errorf("the dry run listed\n %q\nthe real run made\n %q", got, want)
	}

	proxy.ResetCalls()
	again, err := PrepareDryRun(ctx, cfg, env)
	if err != nil {
		t.Fatalf("dry run after prepare: %v", err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("dry run after prepare lists changes: %q", again.Changes)
	}
	if w := writes(proxy); len(w) > 0 {
		t.Fatalf("the dry run after prepare changed the account: %v", w)
	}

	// A moved primary target: the dry run shows the record it would replace.
	cfg.Recover.DNS.PrimaryTarget = "prod-lb-2." + primary + ".example.net"
	proxy.ResetCalls()
	moved, err := PrepareDryRun(ctx, cfg, env)
	if err != nil {
		t.Fatalf("dry run with a moved primary target: %v", err)
	}
	text = strings.Join(moved.Changes, "\n")
	if !strings.Contains(text, `would upsert primary failover record "shop.example.com. A ALIAS prod-lb-2.`+primary+`.example.net" (replacing "shop.example.com. A ALIAS prod-lb.`+primary+`.example.net")`) ||
		!strings.Contains(text, "would delete stale Route 53 health check") || strings.Contains(text, "secondary") {
		t.Errorf("dry run with a moved primary target:\n%s", text)
	}
	if w := writes(proxy); len(w) > 0 {
		t.Fatalf("the dry run with a moved primary target changed the account: %v", w)
	}
}

// TestPrepareDryRunShowsTheRefusal (#19, DNS ownership): where the
// production record points elsewhere, the dry run meets the same refusal
// a real run would, showing the record, and changes nothing.
func TestPrepareDryRunShowsTheRefusal(t *testing.T) {
	t.Parallel()
	cfg, proxy, env := dryRunEnv(t, "us-east-1", "us-west-2")
	ctx := ctxTimeout(t)
	setRecord(t, env, cfg.DR.Region, r53types.ResourceRecordSet{Name: aws.String("shop.example.com."), Type: r53types.RRTypeCname, TTL: aws.Int64(300),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("cdn.partner.example.net")}}}, recordsOf(t, env, cfg.DR.Region, "shop.example.com")...)
	proxy.ResetCalls()

	_, err := PrepareDryRun(ctx, cfg, env)
	if err == nil || !strings.Contains(err.Error(), "CNAME cdn.partner.example.net") || !strings.Contains(err.Error(), "primary_target") {
		t.Fatalf("dry run over another CNAME: %v, want the refusal showing the record", err)
	}
	if w := writes(proxy); len(w) > 0 {
		t.Fatalf("the dry run changed the account: %v", w)
	}
}
