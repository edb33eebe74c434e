package recovery

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// ours reports whether a resource found by name carries the ownership tags
// of the one about to be made (want): pilotlight's, the same stack, the
// same operation kind and, when want names one, the same operation. Names
// are predictable, so a name alone proves nothing: a hand-made DB called
// shop-db-dr, or one an earlier failover left from another point, must not
// become this recovery's database.
func ours(have, want map[string]string) bool {
	if !tags.Managed(have, want[tags.Stack]) || have[tags.OpKind] != want[tags.OpKind] {
		return false
	}
	return want[tags.Operation] == "" || have[tags.Operation] == want[tags.Operation]
}

// notOurs is the error for a resource with a recovery name that ours
// refused: it names the resource, says whose it looks like, and what to do.
func notOurs(what, id, region string, have, want map[string]string) error {
	var whose string
	switch {
	case have[tags.ManagedBy] != tags.Tool:
		whose = "it carries no pilotlight tags"
	case have[tags.Stack] != want[tags.Stack]:
		whose = fmt.Sprintf("it belongs to stack %q", have[tags.Stack])
	case have[tags.OpKind] != want[tags.OpKind]:
		whose = fmt.Sprintf("it was made by a %s, not a %s", orDefault(have[tags.OpKind], "(untagged) operation"), want[tags.OpKind])
	default:
		whose = fmt.Sprintf("it was made by operation %s, not %s", orDefault(have[tags.Operation], "(untagged)"), want[tags.Operation])
	}
	return fmt.Errorf("%s %s already exists in %s and is not this %s's (%s; tags: %s): pilotlight never adopts a resource it did not make; "+
		"delete or rename it, or tear down the operation that made it (`pilotlight teardown`), then run again",
		what, id, region, want[tags.OpKind], whose, tagText(have))
}

func tagText(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", k, m[k])
	}
	return b.String()
}
