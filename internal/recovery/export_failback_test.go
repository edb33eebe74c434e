package recovery

import "github.com/pilotlight/pilotlight/internal/spec"

// Failback test helpers shared with the external test package.
var (
	PromotingEndpoint = promotingEndpoint
	PublishReplicaLag = publishReplicaLag
	FailbackDB        = nextFailbackDB
)

// nextFailbackDB is the identifier cfg's next failback gives the database
// it builds in the primary region (shop-shop-db-fb1 for the test config).
func nextFailbackDB(cfg *spec.Config) string { return failbackNames(cfg, cfg).db() }
