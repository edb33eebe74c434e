package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
)

func init() { register(newFailbackCmd) }

// failbackOptions are the failback verb's flags.
type failbackOptions struct{ recoverOptions }

func newFailbackCmd(app *App) *cobra.Command {
	var o failbackOptions
	cmd := &cobra.Command{
		Use:   "failback",
		Short: "Return to the primary region after a failover, then tear the DR stack down",
		Long: `failback, once the primary region answers again: snapshots the DR database and
copies it to the primary region, restores it there under a new identifier (the
old primary database is never deleted), copies S3 objects written in the DR
region during the outage back to the source buckets (no deletes), brings the
app up in the primary from its newest AMI there, switches DNS back, and then
tears the DR stack down. Journaled, resumable and locked like failover; see
` + "`pilotlight plan failback`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFailback(cmd.Context(), app, o)
		},
	}
	o.bind(cmd)
	return cmd
}

func runFailback(ctx context.Context, app *App, o failbackOptions) error {
	o.Point = "" // failback restores from a snapshot it takes itself
	return runRecover(ctx, app, operation.KindFailback, o.recoverOptions)
}
