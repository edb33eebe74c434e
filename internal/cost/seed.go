package cost

// SeedExample is the seed article's table as inputs: production in Beijing,
// the standby in Ningxia ("以宁夏区为例"), an AMI of 20 GB, 1 TB of replica in
// S3 Standard-IA, 200 GB of cross-region transfer, 6% tax. With the built-in
// prices it gives the seed's figures to the last digit: 66.48, 1265.7,
// 120.06, total 1452.24, with tax 1539.3744.
//
// Two readings of the seed are needed for that, and both are noted in the
// output: "1T" is 1024 GB (1000 GB would give 1236.03), and the 200 GB is
// priced once for the year (its text says "每月 200G", 200 GB a month,
// which would cost 12 × 120.06 = 1440.72 a year; pilotlight's own
// --transfer-gb-month is monthly). The warm-standby comparison uses the
// classes of the seed's Terraform: db.r4.large, t2.large, cache.t2.small.
func SeedExample() Inputs {
	return Inputs{
		Stack:         "seed-example",
		PrimaryRegion: "cn-north-1",
		DRRegion:      "cn-northwest-1",
		AMIGB:         &Quantity{Int(20), "seed: AMI 20G"},
		ReplicaGB: map[string]Quantity{
			"STANDARD_IA": {Int(1024), "seed: S3 不频繁访问 1T (1 TB = 1024 GB)"},
		},
		TransferGB:      &Quantity{Int(200), "seed: 跨区域流量 200 G, priced once for the year"},
		TransferPerYear: true,
		TaxRate:         MustDecimal("0.06"),
		Warm: &Warm{
			DBClass: "db.r4.large", AppInstanceType: "t2.large", CacheNodeType: "cache.t2.small", CacheNodes: 1,
		},
		Notes: []string{
			"seed example: figures and units as in the seed article's cost table (Ningxia, CNY, before 6% VAT)",
			"the seed's text says the 200 GB of transfer is monthly but its table prices it once (200 × 0.6003 = 120.06 a year); " +
				"priced monthly it would be 1440.72 a year",
		},
	}
}
