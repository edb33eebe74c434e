package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newIAMPolicyCmd) }

func newIAMPolicyCmd(app *App) *cobra.Command {
	var forVerbs, account, zoneID, splitDir string
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy for the configured stack",
		Long: `iam-policy prints an IAM policy document granting what the chosen verbs call
and nothing else, in the stack's partition (arn:aws-cn: for cn-* regions):
RDS snapshots named <stack>-* and tagged pilotlight:stack=<stack>, the
configured buckets, pilotlight's own roles by exact name, and in the DR
region only resources tagged with the stack (creates must tag what they
make). Roles may be created or changed only with the permissions boundary
` + "`" + `<stack>-pilotlight-boundary` + "`" + `, which ` + "`" + `--for boundary` + "`" + ` prints.

--for takes a comma-separated list of:
  init       pilotlight init: read-only discovery of the primary region
  backup     backup, serve and the Lambda: recovery points and retention
  replicate  replicate sync and verify
  prepare    replicate setup and prepare: replication, DR network, app role,
             DR load balancer, Route 53 failover records
  failover   failover, drill, failback and teardown
  deploy     pilotlight deploy: Lambda, its roles and schedules
  all        every verb above
or boundary alone: the permissions boundary policy. Create it as a managed
policy named <stack>-pilotlight-boundary before prepare or deploy.

The account id comes from STS unless --account is given (then no AWS call
is made). Record changes are limited to recover.dns.record (and
drill_record) in the configured public hosted zone, whose id is looked up
in Route 53 when the account comes from STS, or given with --zone-id.

The output is the policy JSON in both output modes. IAM takes at most
6,144 characters in one managed policy: --split DIR writes parts within
it, to attach together to the same role or user.`,
		Example: `  pilotlight iam-policy --for backup,replicate
  pilotlight iam-policy --for all --account 123456789012 --zone-id Z0123456789EXAMPLE
  pilotlight iam-policy --for boundary --account 123456789012`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIAMPolicy(cmd.Context(), app, forVerbs, account, zoneID, splitDir)
		},
	}
	cmd.Flags().StringVar(&forVerbs, "for", "all", "verbs: init, backup, replicate, prepare, failover, deploy or all (comma-separated); or boundary")
	cmd.Flags().StringVar(&account, "account", "", "AWS account id (default: the caller's, from STS)")
	cmd.Flags().StringVar(&zoneID, "zone-id", "", "hosted zone id of recover.dns.zone: record changes on that zone only")
	cmd.Flags().StringVar(&splitDir, "split", "", "write the policy as parts within IAM's 6,144-character managed-policy limit, one file each, into this directory")
	return cmd
}

// zoneLister is the Route 53 call iam-policy makes.
type zoneLister interface {
	ListHostedZonesByName(context.Context, *route53.ListHostedZonesByNameInput, ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
}

// publicZoneID is the id of the public hosted zone named zone, the one
// recovery changes records in.
func publicZoneID(ctx context.Context, c zoneLister, zone string) (string, error) {
	name := strings.TrimSuffix(zone, ".") + "."
	out, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("find hosted zone %s: %w", zone, err)
	}
	for _, z := range out.HostedZones {
		if strings.EqualFold(aws.ToString(z.Name), name) && (z.Config == nil || !z.Config.PrivateZone) {
			return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"), nil
		}
	}
	return "", fmt.Errorf("hosted zone %s not found in Route 53", zone)
}

// writeSplit writes doc as parts each within IAM's managed-policy size,
// one file per part, and lists them.
func writeSplit(app *App, doc *iampolicy.Document, dir, stack string) error {
	parts, err := iampolicy.Split(doc, iampolicy.ManagedPolicyLimit)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Exit(ExitFailed, err)
	}
	var files []string
	for i, p := range parts {
		data, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		f := filepath.Join(dir, fmt.Sprintf("%s-pilotlight-%d.json", stack, i+1))
		if err := os.WriteFile(f, append(data, '\n'), 0o600); err != nil {
			return Exit(ExitFailed, err)
		}
		files = append(files, f)
	}
	return app.Print(map[string]any{"files": files}, func(w io.Writer) {
		for _, f := range files {
			fmt.Fprintln(w, f)
		}
	})
}

func runIAMPolicy(ctx context.Context, app *App, forVerbs, account, zoneID, splitDir string) error {
	boundary := strings.TrimSpace(strings.ToLower(forVerbs)) == iampolicy.Boundary
	var verbs []string
	if !boundary {
		var err error
		if verbs, err = iampolicy.ParseVerbs(forVerbs); err != nil {
			return Exit(ExitUsage, fmt.Errorf("--for: %w (or boundary, alone)", err))
		}
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
		if d := cfg.Recover.DNS; zoneID == "" && !boundary && d != nil && d.Zone != "" && d.Mode != spec.DNSManual {
			// With AWS access at hand, the zone's id narrows record changes
			// to it; without, the record names alone still do.
			if zoneID, err = publicZoneID(ctx, route53.NewFromConfig(env.For(cfg.DR.Region)), d.Zone); err != nil {
				app.Log.Warn("record changes are granted on any hosted zone (for the configured names only): give --zone-id to narrow them", "err", err)
			}
		}
	}
	var doc *iampolicy.Document
	if boundary {
		doc, err = iampolicy.BoundaryFor(cfg, account)
	} else {
		doc, err = iampolicy.ForWith(cfg, account, iampolicy.Options{HostedZoneID: zoneID}, verbs...)
	}
	if err != nil {
		return Exit(ExitUsage, err)
	}
	if splitDir != "" {
		return writeSplit(app, doc, splitDir, cfg.Stack)
	}
	if n := doc.Size(); n > iampolicy.ManagedPolicyLimit {
		app.Log.Warn("the policy is larger than IAM allows for one managed policy: use --split DIR for parts to attach together",
			"characters", n, "limit", iampolicy.ManagedPolicyLimit)
	}
	// The document is the output either way: it is what IAM takes.
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(app.Stdout, "%s\n", data)
	return err
}
