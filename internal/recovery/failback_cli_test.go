package recovery_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// After `failback --write-config` the config protects what serves now:
// the failback's database, behind the new primary load balancer; the
// output says how long writes were frozen and names the old production.
func TestCLIFailbackWritesTheConfigThatServes(t *testing.T) {
	_, _, cfg, out := failBackThroughCLI(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	for _, want := range []string{"writes frozen", "copied after the freeze: s3 " + cfg.Protect.Buckets[0].Source, "old production", "rds                  shop-db", "-  database: { from: shop-db,", "+  database: { from: shop-shop-db-fb1,"} {
		if !strings.Contains(out, want) {
			t.Fatalf("failback output lacks %q:\n%s", want, out)
		}
	}
	after, err := spec.Load(cfg.File)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if after.Recover.Database.From != "shop-shop-db-fb1" {
		t.Fatalf("recover.database.from = %q after --write-config", after.Recover.Database.From)
	}
	if _, ok := after.Database("shop-shop-db-fb1"); !ok {
		t.Fatal("protect.databases does not protect the failback's database")
	}
	if strings.Contains(after.Recover.DNS.PrimaryTarget, "prod-lb") {
		t.Fatalf("recover.dns.primary_target still names the old load balancer: %s", after.Recover.DNS.PrimaryTarget)
	}
	t.Log(out)
	raw, _ := os.ReadFile(cfg.File)
	if !strings.Contains(string(raw), "stack: shop") {
		t.Fatalf("the rest of the config changed:\n%s", raw)
	}
}

// failBackThroughCLI is a user's way to a failback with the config
// rewritten: prepare, failover, then failback --write-config, each through
// the command line, the replica's lag published as CloudWatch would. It
// returns the failback's output.
func failBackThroughCLI(t *testing.T, primary, dr, mode string) (url string, env *awsenv.Env, cfg *spec.Config, out string) {
	t.Helper()
	moto := testenv.Shared(t)
	url = recovery.PromotingEndpoint(t, moto.NewAccount(t).URL)
	env = testenv.AWS(t, url)
	cfg = recovery.TestConfig(t, primary, dr, mode)
	recovery.SeedProduction(t, env, cfg)
	for _, args := range [][]string{{"prepare"}, {"failover", "--yes"}} {
		if code, out, errOut := runCLI(t, url, append(args, "--config", cfg.File)...); code != 0 {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	stop := recovery.PublishReplicaLag(t, env, cfg.Primary.Region, "shop-shop-db-fb1")
	defer stop()
	code, out, errOut := runCLI(t, url, "failback", "--config", cfg.File, "--yes", "--write-config")
	if code != 0 {
		t.Fatalf("failback: %d\n%s\n%s", code, out, errOut)
	}
	return url, env, cfg, out
}
