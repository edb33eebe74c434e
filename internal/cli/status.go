package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newStatusCmd) }

func newStatusCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Readiness for a failover now: copies and their age, keys, network, replication, last drill",
		Long: `status checks, per protected resource, that a complete DR copy exists and is
younger than its target RPO, that the DR KMS keys exist and are enabled, that
the DR network prepare builds is complete, that S3 replication is enabled and
the last verify converged, and that the last drill passed. Before the first
drill the stack is ready with a warning. When the primary region does not
answer, what needs it is marked unknown, not failed. After a completed
failover (and before a failback) it says the stack serves from the DR region,
since when, and what a failback would do, step by step;
after one that did not finish, that it should be resumed.
Exit 0 when ready, serving from DR or a failover runs; 1 when not ready or a
failover failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, env, store, err := app.recoveryDeps(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			st := readiness.Evaluate(ctx, env, cfg, store, time.Now())
			if s := st.Serving; s != nil && s.Complete() {
				s.Failback = failbackSteps(cfg, env, app)
			}
			_ = app.Print(st, func(w io.Writer) {
				for _, warn := range st.Warnings {
					fmt.Fprintf(w, "WARNING: %s\n", warn)
				}
				for _, c := range st.Checks {
					mark := "ok  "
					switch {
					case !c.Ready:
						mark = "FAIL"
					case c.Warn:
						mark = "warn"
					}
					fmt.Fprintf(w, "%s %-14s %-28s %s\n", mark, c.Resource, c.Name, c.Detail)
				}
				if s := st.Serving; s != nil {
					if s.Complete() {
						fmt.Fprintf(w, "%s: SERVING FROM DR in %s since %s (%s, %s ago); return with `pilotlight failback`\n",
							cfg.Stack, s.Region, s.Since.Format(time.RFC3339), s.Operation, time.Since(s.Since).Round(time.Second))
						if len(s.Failback) > 0 {
							fmt.Fprintf(w, "failback would, once %s answers (`pilotlight plan failback` shows the graph):\n", cfg.Primary.Region)
							for _, line := range s.Failback {
								fmt.Fprintf(w, "  %s\n", line)
							}
						}
					} else {
						fmt.Fprintf(w, "%s: FAILOVER NOT FINISHED (%s) to %s, started %s (%s): see `pilotlight runs %s`; resume with `pilotlight failover --yes`\n",
							cfg.Stack, s.Phase, s.Region, s.Since.Format(time.RFC3339), s.Operation, s.Operation)
					}
					return
				}
				verdict := "READY"
				if !st.Ready {
					verdict = "NOT READY"
				}
				fmt.Fprintf(w, "%s: %s for failover to %s\n", cfg.Stack, verdict, cfg.DR.Region)
			})
			if s := st.Serving; s != nil && !s.Complete() && s.Phase != operation.PhaseInProgress {
				return Exit(ExitFailed, fmt.Errorf("%s: failover %s is %s", cfg.Stack, s.Operation, s.Phase))
			}
			if !st.Ready && st.Serving == nil {
				return Exit(ExitFailed, fmt.Errorf("%s is not ready for failover", cfg.Stack))
			}
			return nil
		},
	}
}

// failbackSteps is the failback graph's plan, one "id: what" line per step.
// Building the graph makes no AWS call, so it works with the primary dead;
// a config the graph cannot be built from yields the reason instead.
func failbackSteps(cfg *spec.Config, env *awsenv.Env, app *App) []string {
	g, err := recovery.NewFailback(cfg, env, recovery.Options{Log: app.Log}).Graph()
	if err != nil {
		return []string{"(no failback plan: " + err.Error() + ")"}
	}
	var lines []string
	for _, s := range g.Steps() {
		lines = append(lines, s.ID+": "+s.Plan)
	}
	return lines
}
