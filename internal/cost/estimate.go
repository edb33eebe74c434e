package cost

import (
	"errors"
	"fmt"
	"sort"
)

// RoundingRule is the seed's arithmetic, printed with every estimate. Its
// table (20 GB × 0.277 × 12 = 66.48; 1 TB = 1024 GB × 0.1030029 × 12 =
// 1265.6996352 → 1265.7; 200 GB × 0.6003 = 120.06; 66.48 + 1265.7 + 120.06
// = 1452.24; × 1.06 = 1539.3744) shows that each line's yearly cost is
// rounded half up to the cent, the total adds the rounded lines, and the
// total with tax is not rounded again.
const RoundingRule = "per year = quantity × unit price × 12 months (a quantity given per year: × 1), " +
	"rounded half up to 0.01 per line; per month = that line's yearly cost ÷ 12, rounded the same way; " +
	"totals add the rounded lines; with tax = total × (1 + tax rate), not rounded"

// HoursPerMonth is AWS's pricing month (8,760 hours a year ÷ 12).
const HoursPerMonth = 730

// Quantity is an input amount and where it came from.
type Quantity struct {
	Value Decimal
	// From says how it was obtained: measured (and how), a flag, estimated.
	From string
}

// Warm names what a warm standby keeps running in the DR region, for the
// comparison: the database, one app instance, and the cache.
type Warm struct {
	DBClass         string
	DBMultiAZ       bool
	AppInstanceType string
	CacheNodeType   string
	CacheNodes      int
}

// Inputs is everything an estimate needs besides prices. Sizes are in GB as
// AWS bills them (2^30 bytes). A nil quantity means "nothing of that kind
// is protected" and gives no line.
type Inputs struct {
	Stack         string
	PrimaryRegion string
	DRRegion      string

	AMIGB             *Quantity
	ReplicaGB         map[string]Quantity // by S3 storage class
	SnapshotGB        *Quantity           // RDS DB instance snapshots
	ClusterSnapshotGB *Quantity           // Aurora cluster snapshots
	// TransferGB is cross-region transfer out of the primary region, per
	// month, or per year when TransferPerYear is set (the seed priced its
	// 200 GB once for the year).
	TransferGB      *Quantity
	TransferPerYear bool

	// HealthChecks and StandbyLoadBalancers are what failover-records DNS
	// keeps standing: a health check on production and an idle DR ALB.
	HealthChecks         int
	StandbyLoadBalancers int

	Warm    *Warm
	TaxRate Decimal

	// OneOff adds the first full copy to the DR region as a one-off line
	// (outside the totals), priced from the sizes above.
	OneOff bool
	Notes  []string
}

// Line is one priced item. Amounts are absent when the item is not priced.
type Line struct {
	Kind      string   `json:"kind"`
	Item      string   `json:"item"`
	Quantity  Decimal  `json:"quantity"`
	Unit      string   `json:"unit"`
	UnitPrice *Decimal `json:"unit_price,omitempty"`
	PriceUnit string   `json:"price_unit"`
	PerMonth  *Decimal `json:"per_month,omitempty"`
	PerYear   *Decimal `json:"per_year,omitempty"`
	// PerYearUnrounded shows what the rounding rule acted on.
	PerYearUnrounded *Decimal `json:"per_year_unrounded,omitempty"`
	// Once is the amount of a one-off item, paid once.
	Once     *Decimal `json:"once,omitempty"`
	Currency string   `json:"currency"`
	From     string   `json:"from,omitempty"`
	Priced   bool     `json:"priced"`
	Note     string   `json:"note,omitempty"`
}

// Totals of a set of lines, per month and per year, before and with tax.
type Totals struct {
	PerMonth        Decimal `json:"per_month"`
	PerYear         Decimal `json:"per_year"`
	TaxRate         Decimal `json:"tax_rate"`
	PerMonthWithTax Decimal `json:"per_month_with_tax"`
	PerYearWithTax  Decimal `json:"per_year_with_tax"`
	// Complete is false when a line could not be priced: the totals then
	// leave it out.
	Complete bool `json:"complete"`
}

// Estimate is the standby cost and the warm-standby comparison.
type Estimate struct {
	Stack         string            `json:"stack"`
	PrimaryRegion string            `json:"primary_region"`
	DRRegion      string            `json:"dr_region"`
	Currency      string            `json:"currency"`
	PriceSources  map[string]string `json:"price_sources"`
	Rounding      string            `json:"rounding"`

	Standby      []Line `json:"standby"`
	StandbyTotal Totals `json:"standby_total"`

	// Warm lists what a warm standby adds; WarmTotal is standby plus that.
	Warm      []Line  `json:"warm_extra,omitempty"`
	WarmTotal *Totals `json:"warm_total,omitempty"`

	OneOff []Line `json:"one_off,omitempty"`

	Notes []string `json:"notes,omitempty"`
}

var twelve = Int(12)

// Compute prices in against table. Storage and standby items use the DR
// region's prices; transfer uses the primary region's (it is billed where
// the data leaves). A region the table does not price is an error wrapping
// ErrNoPrices.
func Compute(in Inputs, table *Table) (*Estimate, error) {
	dr, err := table.For(in.DRRegion)
	if err != nil {
		return nil, fmt.Errorf("DR region: %w", err)
	}
	est := &Estimate{
		Stack: in.Stack, PrimaryRegion: in.PrimaryRegion, DRRegion: in.DRRegion,
		Currency: dr.Currency, Rounding: RoundingRule,
		PriceSources: map[string]string{in.DRRegion: dr.Source},
	}
	if in.TaxRate.Sign() < 0 {
		return nil, errors.New("tax rate must not be negative")
	}
	var primary *Prices
	if in.TransferGB != nil || in.OneOff {
		primary, err = table.For(in.PrimaryRegion)
		if err != nil {
			return nil, fmt.Errorf("primary region (transfer is billed there): %w", err)
		}
		if primary.Currency != dr.Currency {
			return nil, fmt.Errorf("primary region %s is priced in %s and DR region %s in %s: one estimate cannot add them",
				in.PrimaryRegion, primary.Currency, in.DRRegion, dr.Currency)
		}
		est.PriceSources[in.PrimaryRegion] = primary.Source
	}
	add := func(lines *[]Line, l Line) { l.Currency = dr.Currency; *lines = append(*lines, l) }

	if q := in.AMIGB; q != nil {
		add(&est.Standby, monthly("ami-snapshots", "AMI snapshots (EBS)", *q, "GB", dr.EBSSnapshotGBMonth, "GB-month",
			"ebs_snapshot_gb_month"))
	}
	classes := make([]string, 0, len(in.ReplicaGB))
	for c := range in.ReplicaGB {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		var price *Decimal
		if p, ok := dr.S3GBMonth[c]; ok {
			price = &p
		}
		add(&est.Standby, monthly("s3:"+c, "S3 replica, "+c, in.ReplicaGB[c], "GB", price, "GB-month",
			"s3_gb_month."+c))
	}
	if q := in.SnapshotGB; q != nil {
		add(&est.Standby, monthly("rds-snapshots", "RDS snapshots", *q, "GB", dr.RDSSnapshotGBMonth, "GB-month",
			"rds_snapshot_gb_month"))
	}
	if q := in.ClusterSnapshotGB; q != nil {
		add(&est.Standby, monthly("aurora-snapshots", "Aurora cluster snapshots", *q, "GB", dr.AuroraSnapshotGBMonth,
			"GB-month", "aurora_snapshot_gb_month"))
	}
	if q := in.TransferGB; q != nil {
		l := monthly("transfer", "Cross-region transfer from "+in.PrimaryRegion, *q, "GB/month", primary.TransferOutGB,
			"GB", "transfer_out_gb")
		if in.TransferPerYear {
			l = yearly("transfer", "Cross-region transfer from "+in.PrimaryRegion, *q, "GB/year", primary.TransferOutGB,
				"GB", "transfer_out_gb")
		}
		add(&est.Standby, l)
	}
	if n := in.HealthChecks; n > 0 {
		add(&est.Standby, monthly("route53-health-check", "Route 53 health check",
			Quantity{Int(int64(n)), "failover-records DNS"}, plural(n, "check"), dr.Route53HealthCheckMonth, "month",
			"route53_health_check_month"))
	}
	if n := in.StandbyLoadBalancers; n > 0 {
		add(&est.Standby, monthly("alb", "Standby load balancer (ALB, idle)",
			Quantity{Int(int64(n * HoursPerMonth)), "failover-records DNS: the SECONDARY record's target"}, "h/month",
			dr.ALBHour, "hour", "alb_hour"))
	}
	est.StandbyTotal = total(est.Standby, in.TaxRate)

	if w := in.Warm; w != nil {
		if w.DBClass != "" {
			n, from := 1, "recover.database.class"
			if w.DBMultiAZ {
				n, from = 2, "recover.database.class, Multi-AZ: billed as two instances"
			}
			add(&est.Warm, hourly("rds-instance", "RDS DB instance "+w.DBClass, n, from, dr.RDSInstanceHour, w.DBClass,
				"rds_instance_hour"))
		}
		if w.AppInstanceType != "" {
			add(&est.Warm, hourly("ec2-instance", "EC2 app instance "+w.AppInstanceType, 1, "recover.app.instance_type",
				dr.EC2InstanceHour, w.AppInstanceType, "ec2_instance_hour"))
		}
		if w.CacheNodeType != "" {
			add(&est.Warm, hourly("elasticache-node", "ElastiCache node "+w.CacheNodeType, max(w.CacheNodes, 1),
				"recover.cache", dr.ElastiCacheNodeHour, w.CacheNodeType, "elasticache_node_hour"))
		}
		all := append(append([]Line(nil), est.Standby...), est.Warm...)
		t := total(all, in.TaxRate)
		est.WarmTotal = &t
	}

	if in.OneOff {
		gb := Decimal{}
		for _, q := range []*Quantity{in.AMIGB, in.SnapshotGB, in.ClusterSnapshotGB} {
			if q != nil {
				gb = gb.Add(q.Value)
			}
		}
		for _, q := range in.ReplicaGB {
			gb = gb.Add(q.Value)
		}
		l := yearly("first-copy", "First full copy to "+in.DRRegion+" (one-off, not in totals)",
			Quantity{gb, "sum of the sizes above"}, "GB", primary.TransferOutGB, "GB", "transfer_out_gb")
		l.Once, l.PerMonth, l.PerYear, l.PerYearUnrounded = l.PerYear, nil, nil, nil
		l.Note = "paid once, when protection starts"
		add(&est.OneOff, l)
	}

	est.Notes = append(est.Notes, in.Notes...)
	for _, ls := range [][]Line{est.Standby, est.Warm} {
		for _, l := range ls {
			if !l.Priced {
				est.Notes = append(est.Notes, fmt.Sprintf("%s is not priced for %s and is left out of the totals: %s",
					l.Item, in.DRRegion, l.Note))
			}
		}
	}
	return est, nil
}

// monthly prices a quantity held or moved every month.
func monthly(kind, item string, q Quantity, unit string, price *Decimal, priceUnit, key string) Line {
	return priced(kind, item, q, unit, price, priceUnit, key, twelve)
}

// yearly prices a quantity given for the whole year.
func yearly(kind, item string, q Quantity, unit string, price *Decimal, priceUnit, key string) Line {
	return priced(kind, item, q, unit, price, priceUnit, key, Int(1))
}

func priced(kind, item string, q Quantity, unit string, price *Decimal, priceUnit, key string, times Decimal) Line {
	l := Line{Kind: kind, Item: item, Quantity: q.Value, Unit: unit, PriceUnit: priceUnit, From: q.From}
	if price == nil {
		l.Note = "no " + key + " price in the table; add it with --prices FILE"
		return l
	}
	p := *price
	exact := q.Value.Mul(p).Mul(times)
	year := exact.RoundCents()
	month := exact.Div(twelve).RoundCents()
	l.UnitPrice, l.PerYear, l.PerMonth, l.PerYearUnrounded, l.Priced = &p, &year, &month, &exact, true
	return l
}

// hourly prices n resources of one type running all month.
func hourly(kind, item string, n int, from string, prices map[string]Decimal, typ, key string) Line {
	var price *Decimal
	if p, ok := prices[typ]; ok {
		price = &p
	}
	l := monthly(kind, item, Quantity{Int(int64(n * HoursPerMonth)), from}, "h/month", price, "hour", key+"."+typ)
	if price == nil {
		l.Note = typ + " is not in the " + key + " table (pilotlight does not guess a price); add it with --prices FILE"
	}
	return l
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func total(lines []Line, tax Decimal) Totals {
	t := Totals{TaxRate: tax, Complete: true}
	for _, l := range lines {
		if !l.Priced {
			t.Complete = false
			continue
		}
		t.PerMonth = t.PerMonth.Add(*l.PerMonth)
		t.PerYear = t.PerYear.Add(*l.PerYear)
	}
	factor := Int(1).Add(tax)
	t.PerMonthWithTax = t.PerMonth.Mul(factor)
	t.PerYearWithTax = t.PerYear.Mul(factor)
	return t
}
