package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/discover"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newInitCmd) }

// initOptions are the init verb's flags.
type initOptions struct {
	Primary string
	DR      string
	Tags    []string
	Stack   string
	Out     string
	Force   bool
}

func newInitCmd(app *App) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write pilotlight.yaml from the stack running in the primary region (read-only)",
		Long: `init discovers, in the primary region, the stack's load balancer, the auto
scaling groups (or instances) behind it with their launch template, the RDS
instances and Aurora clusters, the ElastiCache groups, the S3 buckets the app
uses (named in its user-data or its instance role's policies) and the Route 53
records pointing at the load balancer, and writes a commented config that
validate accepts, plus the app's user-data as a recovery template.

With --tag only resources carrying every given tag are included; without,
the stack is the VPC of the one load balancer with an app behind it, and init
says so. Every resource says where it was found; defaults a person must own
are marked DECIDE; what init could not decide is listed at the end.

init only reads (see ` + "`pilotlight iam-policy --for init`" + `) and never overwrites
a file without --force. --output json prints the discovery and writes nothing.`,
		Example: `  pilotlight init --primary cn-northwest-1 --dr cn-north-1
  pilotlight init --primary us-east-1 --dr us-west-2 --tag stack=shop --stack shop
  pilotlight init --primary us-east-1 --dr us-west-2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInit(cmd.Context(), app, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Primary, "primary", "", "the region the stack runs in (required)")
	f.StringVar(&o.DR, "dr", "", "the region to recover it in (required)")
	f.StringArrayVar(&o.Tags, "tag", nil, "only resources carrying this tag, KEY=VALUE (repeatable: all must match)")
	f.StringVar(&o.Stack, "stack", "", "the stack's name (default: derived from the tag or the load balancer)")
	f.StringVar(&o.Out, "out", "pilotlight.yaml", "the config file to write; the user-data template goes beside it")
	f.BoolVar(&o.Force, "force", false, "overwrite existing files")
	return cmd
}

func (o initOptions) check() (map[string]string, error) {
	if o.Primary == "" || o.DR == "" {
		return nil, errors.New("--primary and --dr are required")
	}
	for _, r := range []string{o.Primary, o.DR} {
		if !partition.Known(r) {
			return nil, fmt.Errorf("unknown region %q", r)
		}
	}
	if o.Primary == o.DR {
		return nil, fmt.Errorf("--dr must differ from --primary (%s)", o.Primary)
	}
	if !partition.SamePartition(o.Primary, o.DR) {
		return nil, fmt.Errorf("%s and %s are in different partitions: nothing can be copied between them", o.Primary, o.DR)
	}
	if o.Stack != "" {
		if err := discover.CheckStackName(o.Stack); err != nil {
			return nil, fmt.Errorf("--stack: %w", err)
		}
	}
	tags := map[string]string{}
	for _, t := range o.Tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--tag %q: want KEY=VALUE", t)
		}
		tags[k] = v
	}
	return tags, nil
}

func runInit(ctx context.Context, app *App, o initOptions) error {
	tags, err := o.check()
	if err != nil {
		return Exit(ExitUsage, err)
	}
	udPath := filepath.Join(filepath.Dir(o.Out), discover.DefaultUserDataName)
	if !app.JSON() && !o.Force {
		// Refuse before reading AWS, so that a second run costs nothing.
		for _, p := range []string{o.Out, udPath} {
			if _, err := os.Stat(p); err == nil {
				return Exit(ExitFailed, fmt.Errorf("%s exists: init does not overwrite it without --force", p))
			}
		}
	}
	env, err := app.Env(ctx)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	app.Log.Info("discovering", "region", o.Primary, "tags", strings.Join(o.Tags, ","))
	d, err := discover.Discover(ctx, discover.NewClients(env, o.Primary), discover.Options{
		Primary: o.Primary, DR: o.DR, Tags: tags, Stack: o.Stack, Log: app.Log,
	})
	if err != nil {
		return Exit(ExitFailed, fmt.Errorf("init: %w", err))
	}
	if app.JSON() {
		return app.Print(d, nil)
	}
	files, err := discover.Render(d, discover.DefaultUserDataName)
	if err != nil {
		return Exit(ExitFailed, err)
	}
	if files.UserData != nil {
		if err := writeNew(udPath, files.UserData, o.Force); err != nil {
			return Exit(ExitFailed, err)
		}
	}
	if err := writeNew(o.Out, files.Config, o.Force); err != nil {
		return Exit(ExitFailed, err)
	}
	cfg, err := spec.Load(o.Out)
	if err != nil {
		return Exit(ExitFailed, fmt.Errorf("the config init wrote does not validate (a bug in init; please report it):\n%w", err))
	}
	return app.Print(d, func(w io.Writer) {
		printDiscovery(w, d)
		wrote := o.Out
		if files.UserData != nil {
			wrote += " and " + udPath
		}
		fmt.Fprintf(w, "wrote %s: %d DECIDE marks, %d things init could not decide (listed at the end of %s)\n",
			wrote, strings.Count(string(files.Config), "DECIDE:"), len(files.Undecided), o.Out)
		for _, warn := range cfg.Warnings() {
			fmt.Fprintf(app.Stderr, "warning: %s\n", warn)
		}
		fmt.Fprintf(w, "next: review the DECIDE lines, then `pilotlight validate --config %s` and `pilotlight prepare`\n", o.Out)
	})
}

// writeNew writes a file, refusing to replace one unless force: O_EXCL
// closes the gap between the early check and the write. The config and the
// user-data template may hold secrets (whatever the user-data holds), so
// both are the owner's alone (0600), a replaced file included.
func writeNew(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: init does not overwrite it without --force", path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func printDiscovery(w io.Writer, d *discover.Discovery) {
	fmt.Fprintf(w, "discovered stack %s in %s: %s\n", d.Stack, d.Primary, d.Scope.Why)
	line := func(kind, name, found string) { fmt.Fprintf(w, "  %-13s %-28s %s\n", kind, name, found) }
	if lb := d.LoadBalancer; lb != nil {
		line("load balancer", lb.Name, lb.DNSName)
	}
	for _, a := range d.Apps {
		name := a.AutoScalingGroup
		if name == "" {
			name = strings.Join(a.Instances, ",")
		}
		line("app", name, fmt.Sprintf("%s x%d, %s", a.InstanceType, a.Desired, a.Found))
	}
	for _, db := range d.Databases {
		line("database", db.ID, db.Found)
	}
	for _, c := range d.Caches {
		line("cache", c.ID, c.Found)
	}
	for _, b := range d.Buckets {
		line("bucket", b.Name, b.Found)
	}
	for _, r := range d.Records {
		line("dns", r.Name, r.Found)
	}
}
