package emulator

import (
	"time"

	"github.com/pilotlight/pilotlight/internal/awstime"
)

// ALB target group health check defaults, from awstime.
const (
	albCheckInterval = awstime.ALBHealthCheckInterval
	albHealthyChecks = awstime.ALBHealthyThreshold
)

// SeedStep is one step of the seed's recovery by hand, at AWS durations.
type SeedStep struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took_ns"`
	// Why says what dominates the step, from the table.
	Why string `json:"why"`
}

// SeedSequence is the seed's recovery on a disaster day, one step after
// the other as its README orders them (灾备切换): `terraform apply` of
// basic/ in the DR region, the database restored by hand from the newest
// DR snapshot of gb GB, `terraform apply` of app/ with that endpoint in
// dr.tfvars, and the domain switched by hand. The operator's own time
// between steps is not counted: this is the seed's best case.
func (d Durations) SeedSequence(gb int) []SeedStep {
	targets := d.LoadBalancer + d.InstanceBoot + albCheckInterval*albHealthyChecks
	app := max(d.CacheCluster, d.NatGateway, targets)
	why := "ElastiCache cluster creating (CacheCluster)"
	if app == targets {
		why = "ALB provisioning, then instances booting and passing 5 health checks 30 s apart"
	}
	return []SeedStep{
		{Name: "terraform apply basic/", Took: d.TerraformBasic, Why: "nothing asynchronous (TerraformBasic, estimate)"},
		{Name: "restore the database by hand", Took: d.DBRestore.For(gb), Why: "RestoreDBInstanceFromDBSnapshot until available (DBRestore)"},
		{Name: "terraform apply app/", Took: app, Why: why},
		{Name: "switch DNS by hand", Took: d.ManualDNS, Why: "an operator edits the record (ManualDNS, estimate)"},
	}
}

// SeedTotal is the sum of the seed's sequence.
func SeedTotal(steps []SeedStep) time.Duration {
	var t time.Duration
	for _, s := range steps {
		t += s.Took
	}
	return t
}
