// Package wordpress ships the reference stack (the seed's WordPress on RDS
// MySQL, ElastiCache Redis and an S3 media bucket) inside the binary, so
// that `pilotlight demo` runs from any directory with exactly the files a
// user reads here. It holds files only, no logic.
package wordpress

import "embed"

// Files are pilotlight.yaml and user-data.sh.tmpl, as in this directory.
//
//go:embed pilotlight.yaml user-data.sh.tmpl
var Files embed.FS

// Names of the embedded files.
const (
	ConfigFile   = "pilotlight.yaml"
	UserDataFile = "user-data.sh.tmpl"
)
