package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
)

func init() { register(newPrepareCmd) }

// prepareOptions are the prepare verb's flags.
type prepareOptions struct {
	ForceUnlock string
	DryRun      bool
}

func newPrepareCmd(app *App) *cobra.Command {
	var o prepareOptions
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "Build what must exist in the DR region before a disaster (network, IAM, static DNS)",
		Long: `prepare builds, idempotently, the DR region's network baseline (as the seed's
basic/: VPC, public/app/db subnets in two AZs, internet gateway and routes,
load balancer/app/db security groups, DB and cache subnet groups), the app's
IAM role and instance profile, and in failover-records DNS mode the DR load
balancer with the Route 53 failover record pair and health check. Where the
config names an existing network, it verifies it and lists what is missing.
A second run changes nothing and says so. With --dry-run it makes only read
calls and prints every change it would make (each resource it would create,
each record it would replace with the old and new record, each key-policy
statement it would add), or the refusal a real run would meet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPrepare(cmd.Context(), app, o) },
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print every change prepare would make, and make none")
	cmd.Flags().StringVar(&o.ForceUnlock, "force-unlock", "", "take over the stack's lock left by a crashed process (its lock ID)")
	return cmd
}

func runPrepare(ctx context.Context, app *App, o prepareOptions) error {
	cfg, env, store, err := app.recoveryDeps(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	run := operation.Prepare
	if o.DryRun {
		run = operation.PrepareDryRun
	}
	res, _, err := run(ctx, app.opDeps(cfg, store, o.ForceUnlock), cfg, env)
	if res != nil {
		_ = app.Print(res, func(w io.Writer) {
			if len(res.Changes) == 0 && err == nil {
				fmt.Fprintf(w, "no changes: %s is already prepared for %s\n", res.Region, cfg.Stack)
			}
			for _, c := range res.Changes {
				fmt.Fprintf(w, "  + %s\n", c)
			}
			for _, m := range res.Missing {
				fmt.Fprintf(w, "  missing: %s\n", m)
			}
			if o.DryRun {
				if err == nil {
					fmt.Fprintf(w, "dry run: nothing was changed in %s\n", res.Region)
				}
				return
			}
			if err == nil {
				fmt.Fprintf(w, "prepared %s: vpc %s", res.Region, res.Network.VPC)
				if res.LoadBalancerDNS != "" {
					fmt.Fprintf(w, ", DR load balancer %s", res.LoadBalancerDNS)
				}
				fmt.Fprintln(w)
			}
		})
	}
	if err != nil && !operation.IsLock(err) {
		err = fmt.Errorf("prepare: %w", err)
	}
	return opExit(err)
}
