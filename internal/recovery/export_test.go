package recovery

// Test helpers shared with the external test package (crash tests run the
// CLI, which imports this package).
var (
	TestConfig     = testConfig
	SeedProduction = seedProduction
	Counts         = counts
	Pairs          = pairs
)
