package points

import (
	"context"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// notFoundGrace is how long a wait keeps asking for a resource that EC2
// says does not exist, when pilotlight has just been told it was made.
// EC2 is eventually consistent: right after CopyImage a describe by id may
// answer InvalidAMIID.NotFound, and "it might take a few minutes for
// changes to propagate" (EC2 API Reference, Eventual consistency). Two
// minutes covers that and still fails a point whose copy truly vanished.
const notFoundGrace = 2 * time.Minute

// retryNotFound wraps a waiter's Retryable so that a not-found answer is
// one more poll, not a failure, until grace has passed since the wait
// began. The waiter's own backoff and context still govern the polling;
// once grace has passed, next decides as it would have.
func retryNotFound[I, O any](grace time.Duration, notFound func(error) bool, next func(context.Context, I, O, error) (bool, error)) func(context.Context, I, O, error) (bool, error) {
	began := time.Now()
	return func(ctx context.Context, in I, out O, err error) (bool, error) {
		if err != nil && notFound(err) && time.Since(began) < grace {
			return true, nil
		}
		return next(ctx, in, out, err)
	}
}

// isAMIIDNotFound is EC2's answer for an AMI it does not (yet) know; a
// malformed id is never retried.
func isAMIIDNotFound(err error) bool { return apiCode(err) == "InvalidAMIID.NotFound" }

// in is w with its polling delays in env's time (shorter only on an
// emulator that keeps AWS's time at a scale); the limits stay.
func (w waits) in(env *awsenv.Env) waits {
	w.MinDelay, w.MaxDelay = env.Poll(w.MinDelay), env.Poll(w.MaxDelay)
	return w
}
