package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/pilotlight/pilotlight/internal/awsenv"
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

// configState loads the config and opens its state store, for the verbs
// that only read or repair the state.
func (a *App) configState(ctx context.Context) (*spec.Config, state.Store, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	store, err := a.openState(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}
