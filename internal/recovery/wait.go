package recovery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// waitPolicy bounds context-aware polling with backoff.
type waitPolicy struct {
	First, Max time.Duration
	Timeout    time.Duration
}

func defaultWait() waitPolicy {
	return waitPolicy{First: 2 * time.Second, Max: 30 * time.Second, Timeout: 90 * time.Minute}
}

// in is the policy with its delays in env's time (shorter only on an
// emulator that keeps AWS's time at a scale).
func (p waitPolicy) in(env *awsenv.Env) waitPolicy {
	p.First, p.Max = env.Poll(p.First), env.Poll(p.Max)
	return p
}

// waitFor polls check until it reports done, backing off between polls and
// giving up at the policy's timeout or when ctx ends.
func waitFor[T any](ctx context.Context, p waitPolicy, what string, check func(context.Context) (T, bool, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	delay := p.First
	start := time.Now()
	for {
		v, done, err := check(ctx)
		if err != nil {
			return zero, err
		}
		if done {
			return v, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("waiting for %s (%s elapsed): %w", what, time.Since(start).Round(time.Second), ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, p.Max)
	}
}

// poll adapts the policy to points.Poll, for the failback's snapshots.
func (p waitPolicy) poll(ctx context.Context, what string, done func(context.Context) (bool, error)) error {
	_, err := waitFor(ctx, p, what, func(ctx context.Context) (struct{}, bool, error) {
		ok, err := done(ctx)
		return struct{}{}, ok, err
	})
	return err
}

// iamPropagationLimit bounds how long a create waits for IAM: AWS
// documents that a role or instance profile is usable everywhere only
// after a while (eventual consistency, typically seconds).
const iamPropagationLimit = 2 * time.Minute

// RetryIAMPropagation runs create until it stops failing because an
// instance profile made moments ago is not yet visible to EC2 or Auto
// Scaling ("Invalid IAM Instance Profile": AddRoleToInstanceProfile's
// documentation says to wait for the change to appear across AWS), with
// backoff, for at most iamPropagationLimit; any other error is returned
// at once.
func RetryIAMPropagation(ctx context.Context, create func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, iamPropagationLimit)
	defer cancel()
	delay := time.Second
	for {
		err := create(ctx)
		if err == nil || !strings.Contains(err.Error(), "Invalid IAM Instance Profile") {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (the instance profile was still not visible after %s)", err, iamPropagationLimit)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}
