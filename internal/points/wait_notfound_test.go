package points

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

// A copy that is still not found once the grace is over fails the wait
// (it truly vanished); within the grace it is one more poll.
func TestRetryNotFoundIsBounded(t *testing.T) {
	notFound := &smithy.GenericAPIError{Code: "InvalidAMIID.NotFound"}
	giveUp := func(_ context.Context, _, _ any, err error) (bool, error) { return false, err }
	ctx := context.Background()
	if retry, err := retryNotFound(time.Hour, isAMIIDNotFound, giveUp)(ctx, nil, nil, notFound); !retry || err != nil {
		t.Errorf("within the grace: retry=%v err=%v, want a retry", retry, err)
	}
	if retry, err := retryNotFound(0, isAMIIDNotFound, giveUp)(ctx, nil, nil, notFound); retry || !errors.Is(err, notFound) {
		t.Errorf("after the grace: retry=%v err=%v, want the not-found error", retry, err)
	}
	malformed := &smithy.GenericAPIError{Code: "InvalidAMIID.Malformed"}
	if retry, _ := retryNotFound(time.Hour, isAMIIDNotFound, giveUp)(ctx, nil, nil, malformed); retry {
		t.Error("a malformed id was retried")
	}
}
