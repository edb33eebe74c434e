package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

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

// withLock runs fn holding the stack's mutating-operation lock, taken by
// operation.WithLock; a lock held by someone else (or a --force-unlock id
// that does not match it) exits 3 naming the holder.
func (a *App) withLock(ctx context.Context, cfg *spec.Config, store state.Store, op, forceUnlock string, fn func() error) error {
	err := operation.WithLock(ctx, store, cfg.Stack, op, forceUnlock, a.Log, fn)
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return opExit(err)
}
