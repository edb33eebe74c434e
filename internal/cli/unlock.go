package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newUnlockCmd) }

func newUnlockCmd(app *App) *cobra.Command {
	var o unlockOptions
	cmd := &cobra.Command{
		Use:   "unlock LOCK-ID",
		Short: "Remove the stack's lock left by a crashed operation (as terraform force-unlock)",
		Long: `unlock removes the stack's mutating-operation lock if, and only if, its id is
LOCK-ID (printed in the "stack is locked" error and by ` + "`pilotlight runs`" + `).
Use it only when the process that took the lock is gone: two operations at
once on one stack can undo each other's work. The interrupted run is not
lost: run the operation again and it resumes from its journal. --force-unlock
LOCK-ID on a mutating verb does the same just before it takes the lock.

A lock whose process still runs on this host is refused (exit 3): removing
it would let a second operation resume the same journal beside the first.
--force removes it anyway, with a warning.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnlock(cmd.Context(), app, args[0], o)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "show the lock that would be removed; remove nothing")
	cmd.Flags().BoolVar(&o.force, "force", false, "remove the lock even while its process runs on this host")
	return cmd
}

// unlockOptions are the unlock verb's flags.
type unlockOptions struct {
	dryRun, force bool
}

type unlockResult struct {
	Stack    string          `json:"stack"`
	LockID   string          `json:"lock_id"`
	Holder   *state.LockInfo `json:"holder,omitempty"`
	Released bool            `json:"released"`
	DryRun   bool            `json:"dry_run,omitempty"`
}

func runUnlock(ctx context.Context, app *App, lockID string, o unlockOptions) error {
	dryRun := o.dryRun
	cfg, store, err := app.configState(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	holder, err := store.Holder(ctx, cfg.Stack)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	res := unlockResult{Stack: cfg.Stack, LockID: lockID, Holder: holder, DryRun: dryRun}
	switch {
	case holder == nil:
		return Exit(ExitFailed, fmt.Errorf("unlock %s: stack %s: %w", lockID, cfg.Stack, state.ErrNotLocked))
	case holder.ID != lockID:
		// A wrong id is a bad argument (exit 2), as a bad flag is.
		return Exit(ExitUsage, fmt.Errorf("unlock %s: stack %s is locked by %s with lock %s (pid %d on %s): nothing was unlocked",
			lockID, cfg.Stack, holder.Operation, holder.ID, holder.PID, holder.Host))
	case !dryRun:
		if o.force {
			app.Log.Warn("removing a lock whose process may still run: two operations at once can undo each other's work",
				"lock", lockID, "pid", holder.PID, "host", holder.Host)
		}
		err := state.Unlock(ctx, store, cfg.Stack, lockID, state.UnlockOptions{Force: o.force})
		if errors.Is(err, state.ErrHolderAlive) {
			return Exit(ExitLockHeld, fmt.Errorf("%w; once sure it must go, run `pilotlight unlock %s --force`", err, lockID))
		}
		if err != nil {
			return Exit(ExitFailed, err)
		}
		res.Released = true
	}
	return app.Print(res, func(w io.Writer) {
		verb := "released"
		if dryRun {
			verb = "would release"
		}
		fmt.Fprintf(w, "%s lock %s of stack %s, taken by %s (pid %d on %s) at %s\n",
			verb, lockID, cfg.Stack, holder.Operation, holder.PID, holder.Host, fmtTime(holder.Started))
		if !dryRun {
			fmt.Fprintf(w, "run the %s again to resume its journal (see `pilotlight runs`)\n", holder.Operation)
		}
	})
}
