package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/pilotlight/pilotlight/examples/wordpress"
	"github.com/pilotlight/pilotlight/internal/spec"
)

var (
	primaryTargetLine = regexp.MustCompile(`(?m)^(\s*primary_target:\s*)\S.*$`)
	bucketLine        = regexp.MustCompile(`(?m)^(\s*-?\s*(?:source|replica):\s*)([a-z0-9.-]+)`)
	databaseLine      = regexp.MustCompile(`(?m)^(\s*)- id: wordpress-db\b.*$`)
)

// ConfigOptions are what the demo fills into the example.
type ConfigOptions struct {
	// PrimaryTarget is the production load balancer's DNS name; empty
	// writes the example as shipped (production is built from its values
	// before its load balancer exists).
	PrimaryTarget string
	// BucketSuffix is appended to every bucket name: S3 names are global
	// on an emulator as on AWS, across accounts.
	BucketSuffix string
	// Engine, when set, is the database's copy engine (spec.Database.Engine):
	// the example as shipped copies its snapshots itself.
	Engine string
}

// WriteConfig writes the demo's config into dir: examples/wordpress's
// pilotlight.yaml and user-data.sh.tmpl as shipped, with
// recover.dns.primary_target set to the production load balancer's DNS
// name, which exists only once production is built. The state goes to
// dir/.pilotlight (relative to the config, as for every config).
func WriteConfig(dir string, o ConfigOptions) (*spec.Config, error) {
	primaryTarget := o.PrimaryTarget
	src, err := wordpress.Files.ReadFile(wordpress.ConfigFile)
	if err != nil {
		return nil, err
	}
	ud, err := wordpress.Files.ReadFile(wordpress.UserDataFile)
	if err != nil {
		return nil, err
	}
	if o.BucketSuffix != "" {
		src = bucketLine.ReplaceAll(src, []byte("${1}${2}"+o.BucketSuffix))
	}
	if o.Engine != "" {
		if !databaseLine.Match(src) {
			return nil, fmt.Errorf("%s has no wordpress-db database to set the engine of", wordpress.ConfigFile)
		}
		src = databaseLine.ReplaceAll(src, []byte("${0}\n${1}  engine: "+o.Engine+" # set by `pilotlight demo --engine`"))
	}
	if primaryTarget != "" {
		if !primaryTargetLine.Match(src) {
			return nil, fmt.Errorf("%s has no recover.dns.primary_target line to fill in", wordpress.ConfigFile)
		}
		src = primaryTargetLine.ReplaceAll(src, []byte("${1}"+primaryTarget+" # the simulated production load balancer"))
		src = append([]byte("# Written by `pilotlight demo`: examples/wordpress/pilotlight.yaml with\n"+
			"# recover.dns.primary_target set to the simulated production load balancer.\n"), src...)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, wordpress.ConfigFile)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, wordpress.UserDataFile), ud, 0o600); err != nil {
		return nil, err
	}
	cfg, err := spec.Load(path)
	if err != nil {
		return nil, fmt.Errorf("the demo's config %s: %w", path, err)
	}
	return cfg, nil
}
