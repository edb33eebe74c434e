package cost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Prices is one region's price list in its own currency. A nil price, or a
// type missing from a per-type map, is "not priced": the estimate says so
// instead of guessing.
type Prices struct {
	Currency string `yaml:"currency" json:"currency"`
	// Source says where the figures come from, shown with every estimate.
	Source string `yaml:"source" json:"source"`

	// EBSSnapshotGBMonth prices EBS snapshot storage (the AMIs' snapshots),
	// standard tier.
	EBSSnapshotGBMonth *Decimal `yaml:"ebs_snapshot_gb_month" json:"ebs_snapshot_gb_month,omitempty"`
	// S3GBMonth prices S3 storage by storage class name as S3 spells it
	// (first tier: a standby's replica rarely passes 50 TB).
	S3GBMonth map[string]Decimal `yaml:"s3_gb_month" json:"s3_gb_month,omitempty"`
	// RDSSnapshotGBMonth prices RDS backup storage for DB instance snapshots.
	// In the DR region there is no DB instance, so none of it is free.
	RDSSnapshotGBMonth *Decimal `yaml:"rds_snapshot_gb_month" json:"rds_snapshot_gb_month,omitempty"`
	// AuroraSnapshotGBMonth prices Aurora cluster snapshot storage, which AWS
	// bills at its own rate; no default is shipped.
	AuroraSnapshotGBMonth *Decimal `yaml:"aurora_snapshot_gb_month" json:"aurora_snapshot_gb_month,omitempty"`
	// TransferOutGB prices data transfer out of this region to another region
	// of the same partition, per GB (S3 replication and snapshot/AMI copies).
	TransferOutGB *Decimal `yaml:"transfer_out_gb" json:"transfer_out_gb,omitempty"`
	// Route53HealthCheckMonth prices one basic health check of an AWS
	// endpoint per month.
	Route53HealthCheckMonth *Decimal `yaml:"route53_health_check_month" json:"route53_health_check_month,omitempty"`
	// ALBHour prices an Application Load Balancer hour (without LCUs: an
	// idle standby load balancer uses almost none).
	ALBHour *Decimal `yaml:"alb_hour" json:"alb_hour,omitempty"`
	// RDSInstanceHour prices single-AZ MySQL on-demand DB instance hours by
	// class; Multi-AZ is billed as two.
	RDSInstanceHour map[string]Decimal `yaml:"rds_instance_hour" json:"rds_instance_hour,omitempty"`
	// EC2InstanceHour prices Linux on-demand instance hours by type.
	EC2InstanceHour map[string]Decimal `yaml:"ec2_instance_hour" json:"ec2_instance_hour,omitempty"`
	// ElastiCacheNodeHour prices on-demand Redis node hours by node type.
	ElastiCacheNodeHour map[string]Decimal `yaml:"elasticache_node_hour" json:"elasticache_node_hour,omitempty"`
}

// Table holds the prices of every region pilotlight can estimate for.
type Table struct {
	Regions map[string]*Prices `yaml:"regions"`
}

// ErrNoPrices is returned for a region the table does not price.
var ErrNoPrices = errors.New("no prices for region")

// For returns a region's prices, or an error naming the priced regions and
// the way to add one.
func (t *Table) For(region string) (*Prices, error) {
	if p, ok := t.Regions[region]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w %q: pilotlight prices %s; add the region with --prices FILE (see examples/prices.yaml)",
		ErrNoPrices, region, strings.Join(t.RegionNames(), ", "))
}

// RegionNames lists the priced regions, sorted.
func (t *Table) RegionNames() []string {
	out := make([]string, 0, len(t.Regions))
	for r := range t.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// UnmarshalYAML reads a scalar exactly as written: "0.1030029" must not pass
// through a float64 on its way in.
func (d *Decimal) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number", n.Line)
	}
	v, err := ParseDecimal(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	if v.Sign() < 0 {
		return fmt.Errorf("line %d: price %s is negative", n.Line, n.Value)
	}
	*d = v
	return nil
}

// MarshalYAML writes the exact digits.
func (d Decimal) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: d.String()}, nil
}

// LoadPrices reads a YAML price file (examples/prices.yaml shows the form)
// and lays it over base, which is not modified. A region in the file changes
// only the prices it names, unless it names another currency than base has:
// then the file's region replaces base's whole, so that no estimate ever
// mixes a CNY price with a USD one. A new region must name its currency.
func LoadPrices(path string, base *Table) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	var file Table
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := base.clone()
	for region, p := range file.Regions {
		if p == nil {
			continue
		}
		p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
		old, ok := out.Regions[region]
		if !ok || (p.Currency != "" && p.Currency != old.Currency) {
			if p.Currency == "" {
				return nil, fmt.Errorf("%s: region %s: currency is required for a region pilotlight does not price", path, region)
			}
			if p.Source == "" {
				p.Source = path
			}
			out.Regions[region] = p
			continue
		}
		merged := old.clone()
		merged.overlay(p, path)
		out.Regions[region] = merged
	}
	return out, nil
}

func (t *Table) clone() *Table {
	out := &Table{Regions: make(map[string]*Prices, len(t.Regions))}
	for r, p := range t.Regions {
		out.Regions[r] = p.clone()
	}
	return out
}

func (p *Prices) clone() *Prices {
	c := *p
	c.S3GBMonth = cloneMap(p.S3GBMonth)
	c.RDSInstanceHour = cloneMap(p.RDSInstanceHour)
	c.EC2InstanceHour = cloneMap(p.EC2InstanceHour)
	c.ElastiCacheNodeHour = cloneMap(p.ElastiCacheNodeHour)
	return &c
}

func cloneMap(m map[string]Decimal) map[string]Decimal {
	out := make(map[string]Decimal, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// overlay sets every price o names; Decimals are immutable, so sharing is safe.
func (p *Prices) overlay(o *Prices, path string) {
	set := func(dst **Decimal, src *Decimal) {
		if src != nil {
			*dst = src
		}
	}
	set(&p.EBSSnapshotGBMonth, o.EBSSnapshotGBMonth)
	set(&p.RDSSnapshotGBMonth, o.RDSSnapshotGBMonth)
	set(&p.AuroraSnapshotGBMonth, o.AuroraSnapshotGBMonth)
	set(&p.TransferOutGB, o.TransferOutGB)
	set(&p.Route53HealthCheckMonth, o.Route53HealthCheckMonth)
	set(&p.ALBHour, o.ALBHour)
	for _, m := range []struct{ dst, src map[string]Decimal }{
		{p.S3GBMonth, o.S3GBMonth}, {p.RDSInstanceHour, o.RDSInstanceHour},
		{p.EC2InstanceHour, o.EC2InstanceHour}, {p.ElastiCacheNodeHour, o.ElastiCacheNodeHour},
	} {
		for k, v := range m.src {
			m.dst[k] = v
		}
	}
	if o.Source != "" {
		p.Source = o.Source
	} else {
		p.Source += "; overridden by " + path
	}
}
