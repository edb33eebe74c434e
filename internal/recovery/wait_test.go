package recovery

import (
	"context"
	"errors"
	"testing"
)

// AWS time: an auto scaling group made right after its instance profile
// is refused until IAM's change reaches Auto Scaling (the error the
// emulator's clock gives, as AWS does). The create is retried through
// that error, and only that error.
func TestRetryIAMPropagation(t *testing.T) {
	young := errors.New("api error ValidationError: You must use a valid fully-formed launch template. Value (p) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
	calls := 0
	err := RetryIAMPropagation(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return young
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("retried through propagation: %v after %d calls", err, calls)
	}
	other := errors.New("api error ValidationError: max size must be at least min size")
	calls = 0
	if err := RetryIAMPropagation(context.Background(), func(context.Context) error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("another error is not retried: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RetryIAMPropagation(ctx, func(context.Context) error { return young }); err == nil {
		t.Fatal("a cancelled wait ended without the error")
	}
}
