package iampolicy

import (
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/discover"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// `iam-policy --for init` grants every action discovery calls, and only
// read-only ones: the policy is the proof that init changes nothing.
func TestInitPolicyIsDiscoveryAndReadOnly(t *testing.T) {
	cfg, err := spec.Load("../../examples/wordpress/pilotlight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := For(cfg, "123456789012", Init)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range discover.Actions() {
		if !doc.Allows(a) {
			t.Errorf("init calls %s: not granted", a)
		}
	}
	for _, st := range doc.Statement {
		if !strings.HasPrefix(st.Sid, "InitDiscover") && !strings.HasPrefix(st.Sid, "State") {
			continue
		}
		for _, a := range st.Action {
			op := a[strings.Index(a, ":")+1:]
			if strings.HasPrefix(st.Sid, "InitDiscover") && !(strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get")) {
				t.Errorf("init's policy grants %s, which is not read-only", a)
			}
		}
	}
	if strings.Contains(strings.Join(doc.Actions(), " "), "Create") {
		t.Errorf("init's policy grants a Create action: %v", doc.Actions())
	}
}
