package discover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/discover"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// pilotlight runs the CLI in-process against endpoint.
func pilotlight(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &cli.App{Stdout: &out, Stderr: &errb, Log: slog.New(slog.NewTextHandler(&errb, nil)), EnvOptions: testenv.Options(endpoint)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := cli.RunApp(ctx, app, args)
	return code, out.String(), errb.String()
}

// TestInitAcceptance is the acceptance: a stack built with the SDK
// beside unrelated resources in another VPC; init writes a config that
// validates, names exactly the stack, and that `plan failover` takes.
// Here moto's own ElastiCache answers are used (no member clusters, see
// fixture_test.go): the Redis group is placed by the app's user-data.
func TestInitAcceptance(t *testing.T) {
	for _, pair := range discover.Pairs {
		t.Run(pair.Primary, func(t *testing.T) {
			t.Parallel()
			acct := testenv.Shared(t).NewAccount(t)
			env := testenv.AWS(t, acct.URL)
			s := discover.BuildStack(t, env, pair.Primary, discover.BuildOptions{})
			dir := t.TempDir()
			out := filepath.Join(dir, "pilotlight.yaml")
			code, stdout, stderr := pilotlight(t, acct.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out)
			if code != 0 {
				t.Fatalf("init: exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{"discovered stack shop in " + pair.Primary, "database      shop-aurora", "wrote " + out} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			cfg, err := spec.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			// L6: the config and the template hold what the user-data
			// holds, secrets included: the owner's alone.
			for _, f := range []string{out, cfg.RelPath(cfg.Recover.App.UserData)} {
				if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v %v, want 0600", f, fi.Mode(), err)
				}
			}
			if code, vout, verr := pilotlight(t, acct.URL, "validate", "--config", out); code != 0 {
				t.Fatalf("validate: %d %s %s", code, vout, verr)
			}
			text, _ := os.ReadFile(out)
			flat := strings.Join(strings.Fields(strings.ReplaceAll(string(text), "#", "")), " ")
			if !strings.Contains(flat, "named in the app's user-data") {
				t.Errorf("the cache's comment does not say how it was placed:\n%s", text)
			}
			if got := configNames(cfg); got != wantNames(s) {
				t.Errorf("config names %s\nwant %s", got, wantNames(s))
			}
			for _, u := range []string{s.OtherLB, s.OtherDB, s.OtherBucket, s.OtherInstance, s.OtherRecord} {
				if strings.Contains(string(text), u) {
					t.Errorf("config names unrelated %s", u)
				}
			}
			if err := recovery.CheckUserData(cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := recovery.New(cfg, env, recovery.Options{}).Graph(); err != nil {
				t.Fatal(err)
			}
			// plan failover reads the DR region's recovery points, which a
			// fresh account has none of: it must fail on that (exit 1),
			// not on the config (exit 2).
			code, pout, perr := pilotlight(t, acct.URL, "plan", "failover", "--config", out)
			if code != cli.ExitFailed || !strings.Contains(perr, "recovery point") {
				t.Errorf("plan failover: exit %d, want 1 for missing recovery points\n%s\n%s", code, pout, perr)
			}

			// A second run does not overwrite; --force does.
			before, _ := os.ReadFile(out)
			code, _, stderr = pilotlight(t, acct.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out)
			after, _ := os.ReadFile(out)
			if code == 0 || !strings.Contains(stderr, "--force") || !bytes.Equal(before, after) {
				t.Errorf("second init: exit %d, %s", code, stderr)
			}
			if code, _, stderr := pilotlight(t, acct.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out, "--force", "--stack", "web"); code != 0 {
				t.Errorf("init --force: exit %d %s", code, stderr)
			}
			if cfg, err := spec.Load(out); err != nil || cfg.Stack != "web" {
				t.Errorf("after --force: %v %+v", err, cfg)
			}

			// --output json prints the discovery and writes nothing.
			jsonOut := filepath.Join(dir, "j", "pilotlight.yaml")
			code, stdout, stderr = pilotlight(t, acct.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", jsonOut, "-o", "json")
			var d discover.Discovery
			if code != 0 || json.Unmarshal([]byte(stdout), &d) != nil || d.LoadBalancer == nil || d.LoadBalancer.Name != s.LB {
				t.Fatalf("init -o json: exit %d\n%s\n%s", code, stdout, stderr)
			}
			if _, err := os.Stat(filepath.Dir(jsonOut)); !os.IsNotExist(err) {
				t.Errorf("init -o json wrote files")
			}
		})
	}
}

func configNames(cfg *spec.Config) string {
	var parts []string
	for _, d := range cfg.Protect.Databases {
		parts = append(parts, "db:"+d.ID)
	}
	for _, im := range cfg.Protect.Images {
		parts = append(parts, "image:"+im.Name)
	}
	for _, b := range cfg.Protect.Buckets {
		parts = append(parts, "bucket:"+b.Source)
	}
	if c := cfg.Recover.Cache; c != nil {
		parts = append(parts, "cache:"+c.Engine+"/"+c.NodeType)
	}
	if d := cfg.Recover.DNS; d != nil {
		parts = append(parts, "dns:"+d.Record+"->"+d.PrimaryTarget)
	}
	return strings.Join(parts, " ")
}

func wantNames(s *discover.Stack) string {
	return "db:" + s.Cluster + " image:" + s.ASG + " bucket:" + s.Bucket + " bucket:" + s.PolicyBucket +
		" cache:redis/cache.t3.micro dns:" + s.Record + "->" + s.LBDNS
}

func TestInitFailsClearly(t *testing.T) {
	for _, pair := range discover.Pairs {
		t.Run(pair.Primary, func(t *testing.T) {
			t.Parallel()
			acct := testenv.Shared(t).NewAccount(t)
			dir := t.TempDir()
			out := filepath.Join(dir, "pilotlight.yaml")

			// Nothing to discover.
			code, _, stderr := pilotlight(t, acct.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out)
			if code != cli.ExitFailed || !strings.Contains(stderr, "nothing to discover in "+pair.Primary) {
				t.Errorf("empty region: exit %d %s", code, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a config was written for an empty region")
			}

			// A region that cannot be reached, with a config already there:
			// a clear message, and the file untouched.
			p, err := testenv.NewProxy(acct.URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			p.KillRegion(pair.Primary)
			if err := os.WriteFile(out, []byte("mine\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr = pilotlight(t, p.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out, "--force")
			if code != cli.ExitFailed || !strings.Contains(stderr, "cannot read "+pair.Primary) {
				t.Errorf("dead region: exit %d %s", code, stderr)
			}
			if b, _ := os.ReadFile(out); string(b) != "mine\n" {
				t.Errorf("existing config was changed: %q", b)
			}
			// Without --force, the existing file stops init before any call.
			p.ResetCalls()
			code, _, stderr = pilotlight(t, p.URL, "init", "--primary", pair.Primary, "--dr", pair.DR, "--out", out)
			if code == 0 || !strings.Contains(stderr, "exists") || len(p.Calls()) != 0 {
				t.Errorf("existing file: exit %d %s, %d calls", code, stderr, len(p.Calls()))
			}
		})
	}
}

func TestInitUsage(t *testing.T) {
	for _, args := range [][]string{
		{"init", "--dr", "us-west-2"},
		{"init", "--primary", "us-east-1", "--dr", "cn-north-1"},
		{"init", "--primary", "us-east-1", "--dr", "us-east-1"},
		{"init", "--primary", "us-east-1", "--dr", "us-west-2", "--tag", "novalue"},
		{"init", "--primary", "us-east-1", "--dr", "us-west-2", "--stack", "Bad_Name"},
		{"init", "--primary", "mars-1", "--dr", "us-west-2"},
	} {
		if code, _, stderr := pilotlight(t, "http://127.0.0.1:1", args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}
