package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/readiness"
)

func init() { register(newStatusCmd) }

func newStatusCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Readiness for a failover now: copies and their age, keys, network, replication, last drill",
		Long: `status checks, per protected resource, that a complete DR copy exists and is
younger than its target RPO, that the DR KMS keys exist and are enabled, that
the DR network prepare builds is complete, that S3 replication is enabled and
the last verify converged, and that the last drill passed. Exit 0 when ready,
1 when not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, env, store, err := app.recoveryDeps(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			st := readiness.Evaluate(ctx, env, cfg, store, time.Now())
			_ = app.Print(st, func(w io.Writer) {
				for _, warn := range st.Warnings {
					fmt.Fprintf(w, "WARNING: %s\n", warn)
				}
				for _, c := range st.Checks {
					mark := "ok  "
					if !c.Ready {
						mark = "FAIL"
					}
					fmt.Fprintf(w, "%s %-14s %-28s %s\n", mark, c.Resource, c.Name, c.Detail)
				}
				verdict := "READY"
				if !st.Ready {
					verdict = "NOT READY"
				}
				fmt.Fprintf(w, "%s: %s for failover to %s\n", cfg.Stack, verdict, cfg.DR.Region)
			})
			if !st.Ready {
				return Exit(ExitFailed, fmt.Errorf("%s is not ready for failover", cfg.Stack))
			}
			return nil
		},
	}
}
