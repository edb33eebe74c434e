package cost

// The built-in price lists. They are public on-demand list prices, before
// tax, that a team replaces with its own (contract, discounts, newer list
// prices) through --prices FILE; every estimate prints each region's Source.
//
// Where the figures come from:
//   - cn-northwest-1 EBS snapshot 0.277, S3 Standard-IA 0.1030029 and
//     Beijing↔Ningxia transfer 0.6003 CNY: the seed article's cost table
//     ("AWS Multi-Region Cold Backup", aws-dr-samples, 2019), which quotes
//     the Ningxia list prices of its day. `cost --seed-example` depends on
//     them and a test pins them.
//   - Every other China (CNY) figure: www.amazonaws.cn/en/{ebs,s3,rds,ec2,
//     elasticache,elasticloadbalancing,route53}/pricing/, as known when this
//     table was written (2025). They are approximations of the list, not
//     re-read from those pages at build time: check them before budgeting.
//   - Global (USD) figures: aws.amazon.com/{ebs,s3,rds/mysql,ec2,elasticache,
//     elasticloadbalancing,route53}/pricing/ and the EC2 data-transfer page,
//     list prices as of 2025, first tier.
//
// Inter-region transfer is priced by the source region; inside the aws
// partition the rate also depends on the destination (us-east-1 → us-east-2
// is cheaper): the table holds the common rate to another region.

const (
	sourceSeed  = "seed article cost table (2019 Ningxia list prices); other items: amazonaws.cn list prices as of 2025, approximate"
	sourceChina = "amazonaws.cn list prices as of 2025, approximate: check before budgeting"
	sourceAWS   = "aws.amazon.com list prices as of 2025 (on-demand, first tier)"
)

func d(s string) *Decimal { v := MustDecimal(s); return &v }

func m(kv ...string) map[string]Decimal {
	out := make(map[string]Decimal, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = MustDecimal(kv[i+1])
	}
	return out
}

// s3Classes builds the storage-class map; Intelligent-Tiering is priced at
// its Frequent Access tier (the tier new objects land in) and its monitoring
// fee per object is left out.
func s3Classes(standard, ia, onezone, glacierIR string) map[string]Decimal {
	return m("STANDARD", standard, "STANDARD_IA", ia, "ONEZONE_IA", onezone,
		"GLACIER_IR", glacierIR, "INTELLIGENT_TIERING", standard)
}

// DefaultPrices returns a fresh copy of the built-in table.
func DefaultPrices() *Table {
	usEast := func() *Prices {
		return &Prices{
			Currency: "USD", Source: sourceAWS,
			EBSSnapshotGBMonth:      d("0.05"),
			S3GBMonth:               s3Classes("0.023", "0.0125", "0.01", "0.004"),
			RDSSnapshotGBMonth:      d("0.095"),
			TransferOutGB:           d("0.02"),
			Route53HealthCheckMonth: d("0.50"),
			ALBHour:                 d("0.0225"),
			RDSInstanceHour: m("db.t3.micro", "0.017", "db.t3.small", "0.034", "db.t3.medium", "0.068",
				"db.t3.large", "0.136", "db.m5.large", "0.171", "db.r5.large", "0.25", "db.r4.large", "0.24"),
			EC2InstanceHour: m("t3.micro", "0.0104", "t3.small", "0.0208", "t3.medium", "0.0416",
				"t3.large", "0.0832", "t2.small", "0.023", "t2.medium", "0.0464", "t2.large", "0.0928",
				"m5.large", "0.096"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.017", "cache.t3.small", "0.034", "cache.t3.medium", "0.068",
				"cache.t2.small", "0.034", "cache.m5.large", "0.156", "cache.r5.large", "0.216"),
		}
	}
	return &Table{Regions: map[string]*Prices{
		// Ningxia (NWCD). The seed's three prices; the rest approximate.
		"cn-northwest-1": {
			Currency: "CNY", Source: sourceSeed,
			EBSSnapshotGBMonth:      d("0.277"),                                           // seed
			S3GBMonth:               s3Classes("0.1755", "0.1030029", "0.0824", "0.0330"), // IA: seed
			RDSSnapshotGBMonth:      d("0.532"),
			TransferOutGB:           d("0.6003"), // seed
			Route53HealthCheckMonth: d("3.5"),
			ALBHour:                 d("0.156"),
			RDSInstanceHour: m("db.t3.micro", "0.125", "db.t3.small", "0.25", "db.t3.medium", "0.50",
				"db.t3.large", "1.00", "db.m5.large", "1.26", "db.r5.large", "1.68", "db.r4.large", "1.62"),
			EC2InstanceHour: m("t3.micro", "0.067", "t3.small", "0.134", "t3.medium", "0.268",
				"t3.large", "0.536", "t2.small", "0.15", "t2.medium", "0.30", "t2.large", "0.60",
				"m5.large", "0.62"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.13", "cache.t3.small", "0.26", "cache.t3.medium", "0.52",
				"cache.t2.small", "0.26", "cache.m5.large", "1.17", "cache.r5.large", "1.62"),
		},
		// Beijing (Sinnet): dearer than Ningxia for storage and compute.
		"cn-north-1": {
			Currency: "CNY", Source: sourceChina,
			EBSSnapshotGBMonth:      d("0.37"),
			S3GBMonth:               s3Classes("0.210", "0.125", "0.10", "0.040"),
			RDSSnapshotGBMonth:      d("0.70"),
			TransferOutGB:           d("0.6003"),
			Route53HealthCheckMonth: d("3.5"),
			ALBHour:                 d("0.19"),
			RDSInstanceHour: m("db.t3.micro", "0.155", "db.t3.small", "0.31", "db.t3.medium", "0.62",
				"db.t3.large", "1.24", "db.m5.large", "1.55", "db.r5.large", "2.06", "db.r4.large", "1.99"),
			EC2InstanceHour: m("t3.micro", "0.083", "t3.small", "0.166", "t3.medium", "0.332",
				"t3.large", "0.664", "t2.small", "0.186", "t2.medium", "0.372", "t2.large", "0.744",
				"m5.large", "0.77"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.16", "cache.t3.small", "0.32", "cache.t3.medium", "0.64",
				"cache.t2.small", "0.32", "cache.m5.large", "1.44", "cache.r5.large", "1.99"),
		},
		"us-east-1": usEast(),
		"us-west-2": usEast(), // Oregon lists the same prices as N. Virginia for these items
		"eu-west-1": {
			Currency: "USD", Source: sourceAWS,
			EBSSnapshotGBMonth:      d("0.05"),
			S3GBMonth:               s3Classes("0.023", "0.0125", "0.01", "0.004"),
			RDSSnapshotGBMonth:      d("0.095"),
			TransferOutGB:           d("0.02"),
			Route53HealthCheckMonth: d("0.50"),
			ALBHour:                 d("0.0252"),
			RDSInstanceHour: m("db.t3.micro", "0.018", "db.t3.small", "0.036", "db.t3.medium", "0.072",
				"db.t3.large", "0.145", "db.m5.large", "0.19", "db.r5.large", "0.27", "db.r4.large", "0.265"),
			EC2InstanceHour: m("t3.micro", "0.0114", "t3.small", "0.0228", "t3.medium", "0.0456",
				"t3.large", "0.0912", "t2.small", "0.025", "t2.medium", "0.05", "t2.large", "0.1008",
				"m5.large", "0.107"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.018", "cache.t3.small", "0.036", "cache.t3.medium", "0.073",
				"cache.t2.small", "0.036", "cache.m5.large", "0.171", "cache.r5.large", "0.24"),
		},
		"ap-southeast-1": {
			Currency: "USD", Source: sourceAWS,
			EBSSnapshotGBMonth:      d("0.05"),
			S3GBMonth:               s3Classes("0.025", "0.0138", "0.011", "0.005"),
			RDSSnapshotGBMonth:      d("0.095"),
			TransferOutGB:           d("0.09"),
			Route53HealthCheckMonth: d("0.50"),
			ALBHour:                 d("0.0252"),
			RDSInstanceHour: m("db.t3.micro", "0.026", "db.t3.small", "0.052", "db.t3.medium", "0.104",
				"db.t3.large", "0.208", "db.m5.large", "0.24", "db.r5.large", "0.30", "db.r4.large", "0.29"),
			EC2InstanceHour: m("t3.micro", "0.0132", "t3.small", "0.0264", "t3.medium", "0.0528",
				"t3.large", "0.1056", "t2.small", "0.0292", "t2.medium", "0.0584", "t2.large", "0.1168",
				"m5.large", "0.12"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.025", "cache.t3.small", "0.05", "cache.t3.medium", "0.10",
				"cache.t2.small", "0.05", "cache.m5.large", "0.21", "cache.r5.large", "0.28"),
		},
		"ap-northeast-1": {
			Currency: "USD", Source: sourceAWS,
			EBSSnapshotGBMonth:      d("0.05"),
			S3GBMonth:               s3Classes("0.025", "0.0138", "0.011", "0.005"),
			RDSSnapshotGBMonth:      d("0.095"),
			TransferOutGB:           d("0.09"),
			Route53HealthCheckMonth: d("0.50"),
			ALBHour:                 d("0.0243"),
			RDSInstanceHour: m("db.t3.micro", "0.026", "db.t3.small", "0.052", "db.t3.medium", "0.104",
				"db.t3.large", "0.208", "db.m5.large", "0.235", "db.r5.large", "0.30", "db.r4.large", "0.29"),
			EC2InstanceHour: m("t3.micro", "0.0136", "t3.small", "0.0272", "t3.medium", "0.0544",
				"t3.large", "0.1088", "t2.small", "0.0304", "t2.medium", "0.0608", "t2.large", "0.1216",
				"m5.large", "0.124"),
			ElastiCacheNodeHour: m("cache.t3.micro", "0.026", "cache.t3.small", "0.052", "cache.t3.medium", "0.104",
				"cache.t2.small", "0.052", "cache.m5.large", "0.2", "cache.r5.large", "0.274"),
		},
	}}
}
