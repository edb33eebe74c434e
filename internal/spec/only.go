package spec

import (
	"fmt"
	"strings"
)

// Kinds selects which protected resources a name may refer to.
type Kinds uint8

const (
	KindDatabases Kinds = 1 << iota
	KindImages
	KindBuckets
	// KindPoints are the resources with recovery points: databases and images.
	KindPoints = KindDatabases | KindImages
	KindAll    = KindPoints | KindBuckets
)

func (k Kinds) noun() string {
	var parts []string
	if k&KindDatabases != 0 {
		parts = append(parts, "database")
	}
	if k&KindImages != 0 {
		parts = append(parts, "image")
	}
	if k&KindBuckets != 0 {
		parts = append(parts, "bucket")
	}
	return strings.Join(parts, " or ")
}

// Names lists the protected resources of the kinds, in config order.
func (c *Config) Names(kinds Kinds) []string {
	var out []string
	if kinds&KindDatabases != 0 {
		for _, d := range c.Protect.Databases {
			out = append(out, d.ID)
		}
	}
	if kinds&KindImages != 0 {
		for _, im := range c.Protect.Images {
			out = append(out, im.Name)
		}
	}
	if kinds&KindBuckets != 0 {
		for _, b := range c.Protect.Buckets {
			out = append(out, b.Name)
		}
	}
	return out
}

// Select is the one resolution of an --only list: every name of the kinds
// when only is empty, otherwise the named ones once each, in the order
// given. Unknown names are one error naming all of them and what the config
// has.
func (c *Config) Select(only []string, kinds Kinds) ([]string, error) {
	all := c.Names(kinds)
	if len(only) == 0 {
		return all, nil
	}
	known := make(map[string]bool, len(all))
	for _, n := range all {
		known[n] = true
	}
	var out, bad []string
	seen := map[string]bool{}
	for _, n := range only {
		switch {
		case !known[n]:
			bad = append(bad, n)
		case !seen[n]:
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("--only %s: not a %s in %s (have %s)",
			strings.Join(bad, ", "), kinds.noun(), c.File, strings.Join(all, ", "))
	}
	return out, nil
}
