package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/spec"
)

func init() { register(newValidateCmd) }

func newValidateCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and list every problem as file:line: field: why",
		Long: `validate reads --config and reports every problem at once (exit 2), or prints
a one-line summary (exit 0). Warnings about static stability (a DNS mode that
needs a control plane living in the primary region) are printed but do not
fail validation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runValidate(app) },
	}
}

type validateResult struct {
	Valid    bool     `json:"valid"`
	Summary  string   `json:"summary,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Engines states each database's copy engine and the rule behind it,
	// without asking AWS: auto says what it will ask.
	Engines []readiness.Engine `json:"engines,omitempty"`
}

func runValidate(app *App) error {
	cfg, err := spec.Load(app.ConfigPath)
	if err != nil {
		ps, ok := spec.AsProblems(err)
		if !ok {
			return Exit(ExitUsage, err)
		}
		if app.JSON() {
			res := validateResult{}
			for _, p := range ps {
				res.Problems = append(res.Problems, p.String())
			}
			_ = app.Print(res, nil)
		}
		return Exit(ExitUsage, ps)
	}
	res := validateResult{Valid: true, Summary: cfg.Summary(), Warnings: cfg.Warnings()}
	for _, d := range cfg.Protect.Databases {
		res.Engines = append(res.Engines, readiness.StaticEngine(cfg, d))
	}
	return app.Print(res, func(w io.Writer) {
		for _, warn := range res.Warnings {
			fmt.Fprintf(app.Stderr, "warning: %s\n", warn)
		}
		fmt.Fprintf(w, "%s: valid: %s\n", app.ConfigPath, res.Summary)
		for _, e := range res.Engines {
			fmt.Fprintf(w, "  %s: copy engine %s: %s\n", e.Database, e.Engine, e.Why)
		}
	})
}
