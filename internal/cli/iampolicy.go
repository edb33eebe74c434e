package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
)

func init() { register(newIAMPolicyCmd) }

func newIAMPolicyCmd(app *App) *cobra.Command {
	var forVerbs, account string
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy for the configured stack",
		Long: `iam-policy prints an IAM policy document granting what the chosen verbs call
and nothing else, on the stack's own resources where the API allows it (RDS
snapshots named <stack>-*, the configured buckets, roles named <stack>-*,
the DR region's resources), with tag conditions on deletes where IDs are
random (AMIs, EBS snapshots), in the stack's partition (arn:aws-cn: for
cn-* regions).

--for takes a comma-separated list of: backup, replicate (sync and verify),
init (replicate setup and prepare), failover (failover, drill, failback,
teardown), deploy, or all. The account id comes from STS unless --account
is given (then no AWS call is made). The output is the policy JSON in both
output modes.`,
		Example: `  pilotlight iam-policy --for backup,replicate
  pilotlight iam-policy --for all --account 123456789012`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIAMPolicy(cmd.Context(), app, forVerbs, account) },
	}
	cmd.Flags().StringVar(&forVerbs, "for", "all", "verbs: backup, replicate, init, failover, deploy or all (comma-separated)")
	cmd.Flags().StringVar(&account, "account", "", "AWS account id (default: the caller's, from STS)")
	return cmd
}

func runIAMPolicy(ctx context.Context, app *App, forVerbs, account string) error {
	verbs, err := iampolicy.ParseVerbs(forVerbs)
	if err != nil {
		return Exit(ExitUsage, fmt.Errorf("--for: %w", err))
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	if account == "" {
		env, err := app.Env(ctx)
		if err != nil {
			return Exit(ExitFailed, err)
		}
		if account, err = env.Account(ctx, cfg.DR.Region); err != nil {
			return Exit(ExitFailed, fmt.Errorf("%w (or give --account)", err))
		}
	}
	doc, err := iampolicy.For(cfg, account, verbs...)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	// The document is the output either way: it is what IAM takes.
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(app.Stdout, "%s\n", data)
	return err
}
