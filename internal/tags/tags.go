// Package tags names the tags pilotlight puts on everything it creates.
// Retention and teardown only ever touch resources that carry them
// (DESIGN.md, "Invariants"), so every package uses these names and no others.
package tags

const (
	// ManagedBy is set to Tool on every resource pilotlight creates.
	ManagedBy = "pilotlight:managed-by"
	Tool      = "pilotlight"
	// Stack names the protected stack (spec.Config.Stack).
	Stack = "pilotlight:stack"
	// Resource names the protected resource a recovery point belongs to
	// (a database id, an image name, a bucket name).
	Resource = "pilotlight:resource"
	// Source is the id of what a point was made from: DB instance or
	// cluster id, EC2 instance id, or for a DR copy the source point's id.
	Source = "pilotlight:source"
	// Kind is the recovery-point kind: rds-instance, rds-cluster, ami.
	Kind = "pilotlight:kind"
	// CopyOf marks a DR copy with the id of the primary point it copies.
	CopyOf = "pilotlight:copy-of"
	// Created is the UTC creation time of a point, RFC 3339, so that age
	// survives copies (a copy's own create time is the copy's).
	Created = "pilotlight:created"
	// Operation is the run id of the failover, drill or prepare that
	// created a recovery-plane resource; teardown selects on it.
	Operation = "pilotlight:operation"
	// OpKind is failover, drill, failback or prepare.
	OpKind = "pilotlight:op-kind"
	// Step is the runbook step that created the resource.
	Step = "pilotlight:step"
	// Role names what a recovery-plane resource is for (vpc, public-subnet,
	// app-sg, ...), so that a re-run finds it instead of making another.
	Role = "pilotlight:role"
)

// Base returns the tags every created resource carries.
func Base(stack string) map[string]string {
	return map[string]string{ManagedBy: Tool, Stack: stack}
}

// Managed reports whether a tag set says pilotlight made it for stack.
func Managed(t map[string]string, stack string) bool {
	return t[ManagedBy] == Tool && t[Stack] == stack
}

// With returns a copy of base with extra tags added.
func With(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
