package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/cost"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newCostCmd) }

// costOptions are the cost verb's flags; sizes are decimal strings so that
// they reach the arithmetic exactly.
type costOptions struct {
	Prices          string
	TaxRate         string
	AMIGB           string
	ReplicaGB       []string
	SnapshotGB      string
	TransferGBMonth string
	TransferGBYear  string
	SeedExample     bool
	Now             func() time.Time
}

func newCostCmd(app *App) *cobra.Command {
	opts := costOptions{Now: time.Now}
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Estimate what the standby costs per month and per year, and what a warm standby would cost",
		Long: `cost prices what the pilot light keeps in the DR region: the managed AMIs'
EBS snapshots, the replica buckets by storage class, the managed RDS snapshots,
the monthly cross-region transfer out of the primary, and in failover-records
DNS mode the health check and the idle DR load balancer. It then adds what a
warm standby would keep running (the DB instance, one app instance and the
cache, 730 h/month) for comparison.

Sizes are measured in the DR region only (it works while the primary is
down); each can be set by a flag instead. Monthly transfer is estimated from
the replica objects modified in the last 30 days unless --transfer-gb-month
is given. Prices are built-in list prices (CNY for cn-north-1 and
cn-northwest-1, USD for a few global regions), overridable with --prices FILE
(see examples/prices.yaml).

Each line's yearly cost is rounded half up to 0.01, totals add the rounded
lines, and the total with tax is not rounded: the seed's rule.
--seed-example prints the seed article's table (66.48, 1265.7, 120.06, total
1452.24, with 6% tax 1539.3744) without reading a config or calling AWS.`,
		Example: `  pilotlight cost --tax-rate 0.06
  pilotlight cost --replica-gb STANDARD_IA=1024 --transfer-gb-month 200 -o json
  pilotlight cost --seed-example`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCost(cmd.Context(), app, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.Prices, "prices", "", "YAML file of prices laid over the built-in ones")
	f.StringVar(&opts.TaxRate, "tax-rate", "", "tax rate to add, e.g. 0.06 for 6% (default none; 0.06 with --seed-example)")
	f.StringVar(&opts.AMIGB, "ami-gb", "", "GB of AMI snapshots in the DR region instead of measuring")
	f.StringArrayVar(&opts.ReplicaGB, "replica-gb", nil, "STORAGE_CLASS=GB of replica data instead of measuring (repeatable)")
	f.StringVar(&opts.SnapshotGB, "snapshot-gb", "", "GB of RDS snapshots in the DR region instead of measuring")
	f.StringVar(&opts.TransferGBMonth, "transfer-gb-month", "", "GB a month copied across regions instead of estimating")
	f.StringVar(&opts.TransferGBYear, "transfer-gb-year", "", "GB a year copied across regions (the seed's reading)")
	f.BoolVar(&opts.SeedExample, "seed-example", false, "print the seed article's cost table, from its own inputs")
	return cmd
}

func runCost(ctx context.Context, app *App, opts costOptions) error {
	table := cost.DefaultPrices()
	if opts.Prices != "" {
		t, err := cost.LoadPrices(opts.Prices, table)
		if err != nil {
			return Exit(ExitUsage, err)
		}
		table = t
	}
	// Every flag is checked before any AWS call.
	var tax *cost.Decimal
	if opts.TaxRate != "" {
		rate, err := cost.ParseDecimal(opts.TaxRate)
		if err != nil || rate.Sign() < 0 || rate.Cmp(cost.Int(1)) > 0 {
			return Exit(ExitUsage, fmt.Errorf("--tax-rate %q: want a fraction between 0 and 1, e.g. 0.06", opts.TaxRate))
		}
		tax = &rate
	}
	var in cost.Inputs
	if opts.SeedExample {
		if opts.AMIGB != "" || opts.SnapshotGB != "" || len(opts.ReplicaGB) > 0 || opts.TransferGBMonth != "" || opts.TransferGBYear != "" {
			return Exit(ExitUsage, errors.New("--seed-example uses the seed's own sizes: drop the size flags"))
		}
		in = cost.SeedExample()
	} else {
		cfg, err := app.LoadConfig()
		if err != nil {
			return err
		}
		in, err = costInputs(ctx, app, cfg, table, opts)
		if err != nil {
			return err
		}
	}
	if tax != nil {
		in.TaxRate = *tax
	}
	est, err := cost.Compute(in, table)
	if errors.Is(err, cost.ErrNoPrices) {
		return Exit(ExitUsage, err)
	}
	if err != nil {
		return Exit(ExitFailed, err)
	}
	var textErr error
	if err := app.Print(est, func(w io.Writer) { textErr = cost.WriteText(w, est) }); err != nil {
		return err
	}
	return textErr
}

// costInputs turns the config and flags into estimate inputs, measuring in
// the DR region whatever no flag sets.
func costInputs(ctx context.Context, app *App, cfg *spec.Config, table *cost.Table, opts costOptions) (cost.Inputs, error) {
	in := cost.Inputs{Stack: cfg.Stack, PrimaryRegion: cfg.Primary.Region, DRRegion: cfg.DR.Region, OneOff: true}
	// Unknown regions fail before any AWS call.
	for _, r := range []string{cfg.DR.Region, cfg.Primary.Region} {
		if _, err := table.For(r); err != nil {
			return in, Exit(ExitUsage, err)
		}
	}
	flag := func(name, v string) (*cost.Quantity, error) {
		if v == "" {
			return nil, nil
		}
		d, err := cost.ParseDecimal(v)
		if err != nil || d.Sign() < 0 {
			return nil, Exit(ExitUsage, fmt.Errorf("--%s %q: want a number of GB >= 0", name, v))
		}
		return &cost.Quantity{Value: d, From: "--" + name}, nil
	}
	var err error
	if in.AMIGB, err = flag("ami-gb", opts.AMIGB); err != nil {
		return in, err
	}
	if in.SnapshotGB, err = flag("snapshot-gb", opts.SnapshotGB); err != nil {
		return in, err
	}
	if opts.TransferGBMonth != "" && opts.TransferGBYear != "" {
		return in, Exit(ExitUsage, errors.New("give --transfer-gb-month or --transfer-gb-year, not both"))
	}
	if in.TransferGB, err = flag("transfer-gb-month", opts.TransferGBMonth); err != nil {
		return in, err
	}
	if opts.TransferGBYear != "" {
		if in.TransferGB, err = flag("transfer-gb-year", opts.TransferGBYear); err != nil {
			return in, err
		}
		in.TransferPerYear = true
	}
	if len(opts.ReplicaGB) > 0 {
		in.ReplicaGB = map[string]cost.Quantity{}
		for _, kv := range opts.ReplicaGB {
			class, gb, ok := strings.Cut(kv, "=")
			class = strings.ToUpper(strings.TrimSpace(class))
			q, err := flag("replica-gb", gb)
			if !ok || class == "" || err != nil || q == nil {
				return in, Exit(ExitUsage, fmt.Errorf("--replica-gb %q: want STORAGE_CLASS=GB, e.g. STANDARD_IA=1024", kv))
			}
			in.ReplicaGB[class] = *q
		}
	}

	want := cost.Want{
		AMIs: in.AMIGB == nil, Snapshots: in.SnapshotGB == nil,
		Replicas: in.ReplicaGB == nil, Transfer: in.TransferGB == nil,
	}
	if want != (cost.Want{}) {
		env, err := app.Env(ctx)
		if err != nil {
			return in, Exit(ExitFailed, err)
		}
		m, err := cost.NewMeter(env, cfg.DR.Region, app.Log).Measure(ctx, cfg, want, opts.Now())
		if err != nil {
			return in, Exit(ExitFailed, err)
		}
		if want.AMIs {
			in.AMIGB = m.AMIGB
		}
		if want.Snapshots {
			in.SnapshotGB = m.SnapshotGB
			in.ClusterSnapshotGB = m.ClusterSnapshotGB
		}
		if want.Replicas {
			in.ReplicaGB = m.ReplicaGB
		}
		if want.Transfer {
			in.TransferGB = m.TransferGB
		}
		in.Notes = append(in.Notes, m.Notes...)
	}

	r := cfg.Recover
	if r.DNS != nil && r.DNS.Mode == spec.DNSFailoverRecords {
		in.HealthChecks, in.StandbyLoadBalancers = 1, 1
	}
	w := &cost.Warm{}
	if r.Database != nil {
		w.DBClass, w.DBMultiAZ = r.Database.Class, r.Database.MultiAZ
	}
	if r.App != nil {
		w.AppInstanceType = r.App.InstanceType
	}
	if r.Cache != nil {
		w.CacheNodeType, w.CacheNodes = r.Cache.NodeType, r.Cache.Nodes
	}
	if *w != (cost.Warm{}) {
		in.Warm = w
		in.Notes = append(in.Notes, "warm standby leaves out DB storage, the load balancer's traffic and NAT: "+
			"the comparison is of what runs, not of everything a warm stack bills")
	}
	return in, nil
}
