package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// releaseTimeout bounds giving the lock back after the operation, which
// happens even when Ctrl-C has cancelled the operation's context.
const releaseTimeout = 30 * time.Second

// openState opens the stack's state store; only an s3:// path needs AWS.
func (a *App) openState(ctx context.Context, cfg *spec.Config) (state.Store, error) {
	var env *awsenv.Env
	if strings.HasPrefix(cfg.State.Path, "s3://") {
		var err error
		if env, err = a.Env(ctx); err != nil {
			return nil, Exit(ExitFailed, err)
		}
	}
	s, err := state.Open(ctx, cfg, env)
	if err != nil {
		return nil, Exit(ExitFailed, fmt.Errorf("state %s: %w", cfg.State.Path, err))
	}
	return s, nil
}

// withLock runs fn holding the stack's mutating-operation lock. A lock held
// by someone else exits 3 naming the holder. With forceUnlock, that lock
// is removed first, as `terraform force-unlock` would; an id that does not
// match the holder removes nothing and exits 3. The lock is given back
// even when ctx was cancelled.
func (a *App) withLock(ctx context.Context, cfg *spec.Config, store state.Store, operation, forceUnlock string, fn func() error) (err error) {
	if forceUnlock != "" {
		switch ferr := store.ForceUnlock(ctx, cfg.Stack, forceUnlock); {
		case ferr == nil:
			a.Log.Warn("took over the stack's lock", "stack", cfg.Stack, "lock", forceUnlock)
		case errors.Is(ferr, state.ErrNotLocked):
			a.Log.Warn("--force-unlock: the stack holds no lock; going on", "stack", cfg.Stack, "lock", forceUnlock)
		default:
			return Exit(ExitLockHeld, ferr)
		}
	}
	release, err := store.Lock(ctx, cfg.Stack, operation)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			return Exit(ExitLockHeld, err)
		}
		return Exit(ExitFailed, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if rerr := release(rctx); rerr != nil {
			a.Log.Error("could not release the stack's lock", "stack", cfg.Stack, "err", rerr)
			if err == nil {
				err = Exit(ExitFailed, rerr)
			}
		}
	}()
	return fn()
}
