package cost_test

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

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/cli"
	"github.com/pilotlight/pilotlight/internal/cost"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// runCLI runs pilotlight in-process; endpoint, when set, points AWS at moto.
func runCLI(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &cli.App{Stdout: &out, Stderr: &errb, Log: slog.New(slog.NewTextHandler(&errb, nil))}
	if endpoint != "" {
		app.EnvOptions = &awsenv.Options{
			Endpoint:      endpoint,
			Credentials:   credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
			MaxAttempts:   3,
			MaxBackoff:    50 * time.Millisecond,
			StandardRetry: true,
		}
	}
	code := cli.RunApp(context.Background(), app, args)
	return code, out.String(), errb.String()
}

func TestCLISeedExample(t *testing.T) {
	code, out, errOut := runCLI(t, "", "cost", "--seed-example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"66.48", "1265.7 ", "120.06", "1452.24", "1539.3744", "Warm standby", "per year"} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q:\n%s", s, out)
		}
	}
	code, out, errOut = runCLI(t, "", "cost", "--seed-example", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var est cost.Estimate
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, l := range est.Standby {
		got = append(got, l.PerYear.String())
	}
	got = append(got, est.StandbyTotal.PerYear.String(), est.StandbyTotal.PerYearWithTax.String())
	if strings.Join(got, " ") != "66.48 1265.7 120.06 1452.24 1539.3744" {
		t.Fatalf("seed table: %v", got)
	}
	// The raw JSON has the digits as numbers.
	if !strings.Contains(out, `"per_year_with_tax": 1539.3744`) {
		t.Fatal(out)
	}
	if code, _, errOut := runCLI(t, "", "cost", "--seed-example", "--ami-gb", "5"); code != 2 || !strings.Contains(errOut, "seed") {
		t.Fatalf("size flag with --seed-example: %d %s", code, errOut)
	}
}

func writeConfig(t *testing.T, primary, dr, replica string) string {
	t.Helper()
	dir := t.TempDir()
	src := `stack: wordpress
primary: { region: ` + primary + ` }
dr:      { region: ` + dr + ` }
protect:
  databases: [{ id: wp-db, every: 2h }]
  images:    [{ name: app, instance: { tag: { Role: wordpress } }, every: 24h }]
  buckets:   [{ name: media, source: ` + replica + `-src, replica: ` + replica + `, storage_class: STANDARD_IA }]
recover:
  database: { from: wp-db, class: db.t3.medium }
  cache:    { engine: redis, node_type: cache.t3.small }
  app:      { image_from: app, instance_type: t3.large }
  dns:      { mode: failover-records, zone: example.com, record: blog.example.com, primary_target: prod.example.com }
`
	p := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIMeasuresMoto(t *testing.T) {
	for _, c := range []struct{ name, primary, dr, currency string }{
		{"china", "cn-northwest-1", "cn-north-1", "CNY"},
		{"global", "us-east-1", "us-west-2", "USD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			moto := testenv.Shared(t)
			acct := moto.NewAccount(t)
			env := testenv.AWS(t, acct.URL)
			replica := "wp-media-dr-cli-" + c.name
			cost.SeedStandbyFor(t, env, "wordpress", c.primary, c.dr, replica, 2<<20, 1<<20)
			cfg := writeConfig(t, c.primary, c.dr, replica)

			code, out, errOut := runCLI(t, acct.URL, "cost", "--config", cfg, "--tax-rate", "0.06", "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var est cost.Estimate
			if err := json.Unmarshal([]byte(out), &est); err != nil {
				t.Fatal(err)
			}
			if est.Currency != c.currency || est.DRRegion != c.dr {
				t.Fatalf("estimate %s %s", est.Currency, est.DRRegion)
			}
			lines := map[string]cost.Line{}
			for _, l := range est.Standby {
				lines[l.Kind] = l
			}
			for kind, qty := range map[string]string{
				"ami-snapshots": "15", "rds-snapshots": "20", "s3:STANDARD": "0.001953125", "s3:STANDARD_IA": "0.0009765625",
				"transfer": "0.0029296875", "route53-health-check": "1", "alb": "730",
			} {
				l, ok := lines[kind]
				if !ok || l.Quantity.String() != qty || !l.Priced {
					t.Errorf("%s: %+v (want quantity %s)", kind, l, qty)
				}
			}
			if !strings.HasPrefix(lines["transfer"].From, "estimated") || !strings.HasPrefix(lines["ami-snapshots"].From, "measured") {
				t.Errorf("sources: %q %q", lines["transfer"].From, lines["ami-snapshots"].From)
			}
			// Totals add the rounded lines; tax multiplies the total exactly.
			sum := cost.Decimal{}
			for _, l := range est.Standby {
				sum = sum.Add(*l.PerYear)
			}
			if sum.Cmp(est.StandbyTotal.PerYear) != 0 ||
				est.StandbyTotal.PerYear.Mul(cost.MustDecimal("1.06")).Cmp(est.StandbyTotal.PerYearWithTax) != 0 {
				t.Errorf("totals: %+v, sum %s", est.StandbyTotal, sum)
			}
			if len(est.Warm) != 3 || est.WarmTotal == nil || !est.WarmTotal.Complete || len(est.OneOff) != 1 {
				t.Errorf("warm %+v total %+v one-off %+v", est.Warm, est.WarmTotal, est.OneOff)
			}

			// Flags replace measurements; the text table says where each came from.
			code, out, errOut = runCLI(t, acct.URL, "cost", "--config", cfg, "--replica-gb", "standard_ia=1024",
				"--transfer-gb-month", "200", "--ami-gb", "20", "--snapshot-gb", "0")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, s := range []string{"1024 GB", "200 GB/month", "20 GB", "Route 53 health check", "Warm standby", "RDS DB instance db.t3.medium"} {
				if !strings.Contains(out, s) {
					t.Errorf("text lacks %q:\n%s", s, out)
				}
			}
			if strings.Contains(out, "STANDARD ") {
				t.Errorf("--replica-gb must replace the measured classes:\n%s", out)
			}
		})
	}
}

// A price file changes what it names, the rest stays built in.
func TestCLIPriceFile(t *testing.T) {
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.yaml")
	if err := os.WriteFile(prices, []byte("regions:\n  us-west-2:\n    source: negotiated\n    ec2_instance_hour: { t3.large: 0.05 }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "us-east-1", "us-west-2", "wp-media-dr")
	// Every size given: no AWS call, so a dead endpoint must not matter.
	code, out, errOut := runCLI(t, "http://127.0.0.1:1", "cost", "--config", cfg, "--prices", prices, "-o", "json",
		"--ami-gb", "20", "--snapshot-gb", "20", "--replica-gb", "STANDARD_IA=100", "--transfer-gb-month", "10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var est cost.Estimate
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatal(err)
	}
	for _, l := range est.Warm {
		if l.Kind == "ec2-instance" && (l.UnitPrice.String() != "0.05" || l.PerYear.String() != "438") {
			t.Errorf("override not applied: %+v", l)
		}
		if l.Kind == "rds-instance" && l.UnitPrice.String() != "0.068" {
			t.Errorf("built-in price lost: %+v", l)
		}
	}
	// 20 × 0.05 × 12 = 12; 100 × 0.0125 × 12 = 15; 20 × 0.095 × 12 = 22.8;
	// 10 × 0.02 × 12 = 2.4; 0.5 × 12 = 6; 730 × 0.0225 × 12 = 197.1.
	if est.StandbyTotal.PerYear.String() != "255.3" || est.PriceSources["us-west-2"] != "negotiated" {
		t.Errorf("total %s sources %v", est.StandbyTotal.PerYear, est.PriceSources)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	cfg := writeConfig(t, "eu-west-1", "eu-south-2", "wp-media-dr")
	code, _, errOut := runCLI(t, "http://127.0.0.1:1", "cost", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, `no prices for region "eu-south-2"`) || !strings.Contains(errOut, "--prices") {
		t.Fatalf("unknown region: exit %d: %s", code, errOut)
	}
	ok := writeConfig(t, "us-east-1", "us-west-2", "wp-media-dr")
	for _, args := range [][]string{
		{"--replica-gb", "STANDARD_IA"}, {"--replica-gb", "=5"}, {"--ami-gb", "-1"}, {"--tax-rate", "6%"},
		{"--tax-rate", "-0.1"}, {"--transfer-gb-month", "1", "--transfer-gb-year", "12"}, {"--prices", "/nonexistent.yaml"},
	} {
		code, _, errOut := runCLI(t, "http://127.0.0.1:1", append([]string{"cost", "--config", ok}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}
