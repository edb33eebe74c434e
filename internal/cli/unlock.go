package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/state"
)

func init() { register(newUnlockCmd) }

func newUnlockCmd(app *App) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "unlock LOCK-ID",
		Short: "Remove the stack's lock left by a crashed operation (as terraform force-unlock)",
		Long: `unlock removes the stack's mutating-operation lock if, and only if, its id is
LOCK-ID (printed in the "stack is locked" error and by ` + "`pilotlight runs`" + `).
Use it only when the process that took the lock is gone: two operations at
once on one stack can undo each other's work. The interrupted run is not
lost: run the operation again and it resumes from its journal. --force-unlock
LOCK-ID on a mutating verb does the same just before it takes the lock.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnlock(cmd.Context(), app, args[0], dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the lock that would be removed; remove nothing")
	return cmd
}

type unlockResult struct {
	Stack    string          `json:"stack"`
	LockID   string          `json:"lock_id"`
	Holder   *state.LockInfo `json:"holder,omitempty"`
	Released bool            `json:"released"`
	DryRun   bool            `json:"dry_run,omitempty"`
}

func runUnlock(ctx context.Context, app *App, lockID string, dryRun bool) error {
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
		if err := store.ForceUnlock(ctx, cfg.Stack, lockID); err != nil {
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
