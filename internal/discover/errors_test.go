package discover

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestRegionErrorSaysWhy(t *testing.T) {
	denied := regionErr("cn-north-1", "list databases", &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"})
	var re *RegionError
	if !errors.As(denied, &re) || !re.Denied || !strings.Contains(denied.Error(), "no access to cn-north-1: list databases") || !strings.Contains(denied.Error(), "iam-policy --for init") {
		t.Errorf("denied: %v", denied)
	}
	down := regionErr("us-east-1", "list instances", errors.New("connection reset"))
	if !errors.As(down, &re) || re.Denied || !strings.Contains(down.Error(), "cannot read us-east-1") {
		t.Errorf("down: %v", down)
	}
	if c := regionErr("us-east-1", "x", context.Canceled); errors.As(c, &re) || !errors.Is(c, context.Canceled) {
		t.Errorf("a cancelled run is not a region problem: %v", c)
	}
	amb := &AmbiguousError{Region: "us-east-1", Candidates: []string{"a", "b"}}
	if !strings.Contains(amb.Error(), "a; b") || !strings.Contains(amb.Error(), "--stack") {
		t.Errorf("ambiguous: %v", amb)
	}
}
