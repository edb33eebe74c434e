package cost

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seed's table, to the last digit (seed/000_602416c6d274dfee.txt):
// AMI 20G 0.277/GB/月 66.48; S3 不频繁访问 1T 0.1030029/GB/月 1265.7;
// 跨区域流量 200 G 0.6003/GB 120.06; Total 1452.24; with tax 1539.3744.
func TestSeedTableExact(t *testing.T) {
	est, err := Compute(SeedExample(), DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ami-snapshots": "66.48", "s3:STANDARD_IA": "1265.7", "transfer": "120.06"}
	if len(est.Standby) != len(want) {
		t.Fatalf("lines: %+v", est.Standby)
	}
	for _, l := range est.Standby {
		if got := l.PerYear.String(); got != want[l.Kind] {
			t.Errorf("%s per year = %s, want %s", l.Kind, got, want[l.Kind])
		}
	}
	// What the rounding acted on: 1024 × 0.1030029 × 12 exactly.
	if got := est.Standby[1].PerYearUnrounded.String(); got != "1265.6996352" {
		t.Errorf("S3 unrounded = %s", got)
	}
	if got := est.StandbyTotal.PerYear.String(); got != "1452.24" {
		t.Errorf("total = %s, want 1452.24", got)
	}
	if got := est.StandbyTotal.PerYearWithTax.String(); got != "1539.3744" {
		t.Errorf("with tax = %s, want 1539.3744", got)
	}
	if est.Currency != "CNY" || !est.StandbyTotal.Complete {
		t.Errorf("currency %s complete %v", est.Currency, est.StandbyTotal.Complete)
	}

	var text bytes.Buffer
	if err := WriteText(&text, est); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, s := range []string{"20 GB", "0.277/GB-month", "66.48", "1024 GB", "0.1030029/GB-month", "1265.7 ",
		"200 GB/year", "0.6003/GB", "120.06", "1452.24", "1539.3744", "Total with tax (6%)", "per year"} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q:\n%s", s, out)
		}
	}

	// JSON carries the same digits as numbers, not through float64.
	b, err := json.Marshal(est)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"per_year":1265.7`, `"per_year":1452.24`, `"per_year_with_tax":1539.3744`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("json lacks %s: %s", s, b)
		}
	}
	var back Estimate
	if err := json.Unmarshal(b, &back); err != nil || back.StandbyTotal.PerYearWithTax.String() != "1539.3744" {
		t.Fatalf("round trip: %v %+v", err, back.StandbyTotal)
	}
}

func TestSeedWarmComparison(t *testing.T) {
	est, err := Compute(SeedExample(), DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	if len(est.Warm) != 3 || est.WarmTotal == nil || !est.WarmTotal.Complete {
		t.Fatalf("warm: %+v %+v", est.Warm, est.WarmTotal)
	}
	// Each warm line is 730 h × price × 12, and the warm total is the
	// standby plus those lines.
	sum := est.StandbyTotal.PerYear
	for _, l := range est.Warm {
		want := Int(HoursPerMonth).Mul(*l.UnitPrice).Mul(Int(12)).RoundCents()
		if l.PerYear.Cmp(want) != 0 || l.Quantity.String() != "730" {
			t.Errorf("%s: %s, want %s", l.Item, l.PerYear, want)
		}
		sum = sum.Add(*l.PerYear)
	}
	if est.WarmTotal.PerYear.Cmp(sum) != 0 || est.WarmTotal.PerYear.Cmp(est.StandbyTotal.PerYear) <= 0 {
		t.Errorf("warm total %s, standby %s, sum %s", est.WarmTotal.PerYear, est.StandbyTotal.PerYear, sum)
	}
}

func TestRoundHalfUp(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1265.6996352", "1265.7"}, {"10.005", "10.01"}, {"10.0049999", "10"}, {"0.125", "0.13"},
		{"66.48", "66.48"}, {"0", "0"}, {"-0.005", "-0.01"},
	} {
		if got := MustDecimal(c.in).RoundCents().String(); got != c.want {
			t.Errorf("round(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	// Float64 would drift here; the exact sum does not.
	sum := Decimal{}
	for i := 0; i < 10; i++ {
		sum = sum.Add(MustDecimal("0.1"))
	}
	if sum.String() != "1" {
		t.Fatalf("0.1 × 10 = %s", sum)
	}
	for _, bad := range []string{"", "abc", "1/3", "1e3"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func TestUnknownRegionIsClear(t *testing.T) {
	in := SeedExample()
	in.DRRegion = "eu-south-2"
	_, err := Compute(in, DefaultPrices())
	if !errors.Is(err, ErrNoPrices) || !strings.Contains(err.Error(), `"eu-south-2"`) ||
		!strings.Contains(err.Error(), "--prices") || !strings.Contains(err.Error(), "cn-northwest-1") {
		t.Fatalf("err = %v", err)
	}
	in = SeedExample()
	in.PrimaryRegion = "us-gov-west-1"
	if _, err := Compute(in, DefaultPrices()); !errors.Is(err, ErrNoPrices) || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("primary: %v", err)
	}
}

func TestUnknownInstanceTypeIsNotGuessed(t *testing.T) {
	in := SeedExample()
	in.Warm.AppInstanceType = "x9z.mega"
	est, err := Compute(in, DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	var app Line
	for _, l := range est.Warm {
		if l.Kind == "ec2-instance" {
			app = l
		}
	}
	if app.Priced || app.PerYear != nil || !strings.Contains(app.Note, "x9z.mega") || est.WarmTotal.Complete {
		t.Fatalf("app line %+v, complete %v", app, est.WarmTotal.Complete)
	}
	if est.StandbyTotal.PerYear.String() != "1452.24" || !est.StandbyTotal.Complete {
		t.Fatal("the standby total must not change")
	}
	joined := strings.Join(est.Notes, "\n")
	if !strings.Contains(joined, "not priced") || !strings.Contains(joined, "x9z.mega") {
		t.Fatalf("notes: %s", joined)
	}
	var text bytes.Buffer
	_ = WriteText(&text, est)
	if !strings.Contains(text.String(), "not priced") || !strings.Contains(text.String(), "incomplete") {
		t.Fatal(text.String())
	}
}

func TestPriceOverrideFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prices.yaml")
	src := `regions:
  cn-northwest-1:
    source: our 2025 contract
    ebs_snapshot_gb_month: 0.25
    s3_gb_month: { STANDARD_IA: 0.1 }
    ec2_instance_hour: { x9z.mega: 1.5 }
  cn-north-1:
    transfer_out_gb: 0.5
  eu-south-2:
    currency: eur
    ebs_snapshot_gb_month: 0.055
`
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	base := DefaultPrices()
	table, err := LoadPrices(p, base)
	if err != nil {
		t.Fatal(err)
	}
	if base.Regions["cn-northwest-1"].EBSSnapshotGBMonth.String() != "0.277" {
		t.Fatal("LoadPrices modified its base")
	}
	in := SeedExample()
	in.Warm.AppInstanceType = "x9z.mega"
	est, err := Compute(in, table)
	if err != nil {
		t.Fatal(err)
	}
	// 20 × 0.25 × 12 = 60; 1024 × 0.1 × 12 = 1228.8; 200 × 0.5 = 100.
	want := map[string]string{"ami-snapshots": "60", "s3:STANDARD_IA": "1228.8", "transfer": "100"}
	for _, l := range est.Standby {
		if l.PerYear.String() != want[l.Kind] {
			t.Errorf("%s = %s, want %s", l.Kind, l.PerYear, want[l.Kind])
		}
	}
	if est.StandbyTotal.PerYear.String() != "1388.8" || !est.WarmTotal.Complete {
		t.Errorf("total %s, warm complete %v", est.StandbyTotal.PerYear, est.WarmTotal.Complete)
	}
	if est.PriceSources["cn-northwest-1"] != "our 2025 contract" ||
		!strings.Contains(est.PriceSources["cn-north-1"], "overridden by "+p) {
		t.Errorf("sources %v", est.PriceSources)
	}
	// Untouched prices stay: the warm DB is still priced from the defaults.
	if table.Regions["cn-northwest-1"].RDSInstanceHour["db.r4.large"].String() != "1.62" {
		t.Error("override dropped untouched prices")
	}
	if eu := table.Regions["eu-south-2"]; eu == nil || eu.Currency != "EUR" {
		t.Errorf("new region: %+v", eu)
	}

	for name, bad := range map[string]string{
		"unknown field": "regions:\n  us-east-1:\n    ebs_snaphot_gb_month: 1\n",
		"not a number":  "regions:\n  us-east-1:\n    alb_hour: cheap\n",
		"negative":      "regions:\n  us-east-1:\n    alb_hour: -1\n",
		"no currency":   "regions:\n  mars-1:\n    alb_hour: 1\n",
	} {
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPrices(p, base); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A file that switches a region's currency replaces its prices whole, so an
// estimate never adds CNY to USD; a primary and DR in different currencies
// is refused.
func TestCurrenciesNeverMix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prices.yaml")
	if err := os.WriteFile(p, []byte("regions:\n  cn-northwest-1:\n    currency: USD\n    ebs_snapshot_gb_month: 0.04\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	table, err := LoadPrices(p, DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	if r := table.Regions["cn-northwest-1"]; r.TransferOutGB != nil || len(r.S3GBMonth) != 0 {
		t.Fatalf("CNY prices kept under USD: %+v", r)
	}
	if _, err := Compute(SeedExample(), table); err == nil || !strings.Contains(err.Error(), "cannot add") {
		t.Fatalf("mixed currencies: %v", err)
	}
}

func TestDefaultTableIsWellFormed(t *testing.T) {
	table := DefaultPrices()
	for _, r := range []string{"cn-north-1", "cn-northwest-1", "us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-northeast-1"} {
		p, err := table.For(r)
		if err != nil {
			t.Fatal(err)
		}
		wantCur := "USD"
		if strings.HasPrefix(r, "cn-") {
			wantCur = "CNY"
		}
		if p.Currency != wantCur || p.Source == "" {
			t.Errorf("%s: currency %s source %q", r, p.Currency, p.Source)
		}
		for _, x := range []*Decimal{p.EBSSnapshotGBMonth, p.RDSSnapshotGBMonth, p.TransferOutGB, p.Route53HealthCheckMonth, p.ALBHour} {
			if x == nil || x.Sign() <= 0 {
				t.Errorf("%s: missing a base price", r)
			}
		}
		for _, c := range []string{"STANDARD", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "INTELLIGENT_TIERING"} {
			if v, ok := p.S3GBMonth[c]; !ok || v.Sign() <= 0 {
				t.Errorf("%s: no %s price", r, c)
			}
		}
		// The reference example's classes are priced everywhere.
		if _, ok := p.RDSInstanceHour["db.t3.medium"]; !ok {
			t.Errorf("%s: db.t3.medium", r)
		}
		if _, ok := p.EC2InstanceHour["t3.large"]; !ok {
			t.Errorf("%s: t3.large", r)
		}
		if _, ok := p.ElastiCacheNodeHour["cache.t3.small"]; !ok {
			t.Errorf("%s: cache.t3.small", r)
		}
	}
	// The seed example depends on these three.
	nx := table.Regions["cn-northwest-1"]
	if nx.EBSSnapshotGBMonth.String() != "0.277" || nx.S3GBMonth["STANDARD_IA"].String() != "0.1030029" ||
		table.Regions["cn-north-1"].TransferOutGB.String() != "0.6003" {
		t.Fatal("the seed's prices changed")
	}
}

// The shipped sample file loads and prices what it names.
func TestExamplePricesFile(t *testing.T) {
	table, err := LoadPrices("../../examples/prices.yaml", DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	eu, err := table.For("eu-central-1")
	if err != nil || eu.Currency != "USD" || eu.AuroraSnapshotGBMonth.String() != "0.021" {
		t.Fatalf("eu-central-1: %+v %v", eu, err)
	}
	bj := table.Regions["cn-north-1"]
	if bj.Currency != "CNY" || bj.RDSInstanceHour["db.r6g.large"].String() != "1.55" || bj.RDSInstanceHour["db.t3.medium"].IsZero() {
		t.Fatalf("cn-north-1: %+v", bj)
	}
}
