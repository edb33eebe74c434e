package recovery

// Failback test helpers shared with the external test package.
var (
	PromotingEndpoint = promotingEndpoint
	PublishReplicaLag = publishReplicaLag
)
