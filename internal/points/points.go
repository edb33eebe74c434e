// Package points owns recovery points: RDS DB snapshots, Aurora DB cluster
// snapshots and AMIs that pilotlight takes in the primary region, copies to
// the DR region, prunes and lists. Each kind lives in its own file behind
// one small interface; retention is a pure function (retention.go).
//
// It only ever deletes points that carry pilotlight's tags for the stack, and
// the read side used by recovery (NewestDR, Get in the DR region) calls only
// the region it is given.
package points

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Kind is the kind of a recovery point.
type Kind string

// The kinds of recovery point.
const (
	KindRDSInstance Kind = "rds-instance"
	KindRDSCluster  Kind = "rds-cluster"
	KindAMI         Kind = "ami"
)

// Statuses, normalised across kinds (AMIs say "pending" where RDS says
// "creating" or "copying").
const (
	StatusAvailable = "available"
	StatusCreating  = "creating"
	StatusCopying   = "copying"
	StatusFailed    = "failed"
)

// Point is one recovery point in one region.
type Point struct {
	// ID is the snapshot identifier or AMI id, usable as is in Region.
	ID  string `json:"id"`
	ARN string `json:"arn,omitempty"`
	// Name is the AMI name; for RDS it equals ID. A DR copy has the same
	// name as its source, which is how a crashed cycle finds it again.
	Name string `json:"name,omitempty"`
	// Resource is the protected resource's name in the config.
	Resource string `json:"resource"`
	Kind     Kind   `json:"kind"`
	Region   string `json:"region"`
	// Source is the DB instance or cluster id, or EC2 instance id, the
	// point was made from.
	Source string `json:"source,omitempty"`
	// CopyOf is, for DR copies, the id of the primary point copied.
	CopyOf string `json:"copy_of,omitempty"`
	// Created is when the original point was taken (tag pilotlight:created),
	// so that a DR copy's age is the age of its data.
	Created   time.Time `json:"created"`
	Status    string    `json:"status"`
	SizeGB    int       `json:"size_gb"`
	Managed   bool      `json:"managed"`
	Encrypted bool      `json:"encrypted"`
	KMSKey    string    `json:"kms_key,omitempty"`
	// Snapshots are an AMI's EBS snapshot ids.
	Snapshots []string `json:"snapshots,omitempty"`
	// Engine is the RDS engine (mysql, aurora-mysql, ...).
	Engine string `json:"engine,omitempty"`

	// tags are the point's own tags, carried to its DR copy.
	tags map[string]string
}

// Available reports whether the point can be restored or copied.
func (p Point) Available() bool { return p.Status == StatusAvailable }

// inProgress reports whether the point is still being made or copied: it
// must be waited on, never deleted nor duplicated.
func (p Point) inProgress() bool {
	switch p.Status {
	case StatusAvailable, StatusFailed, "deleted", "deleting", "deregistered", "incompatible-restore",
		"incompatible-parameters", "invalid", "error", "disabled":
		return false
	}
	return true
}

// ErrNotFound is returned (wrapped) when no point matches.
var ErrNotFound = errors.New("no recovery point found")

// List returns the points of one protected resource in one region: those
// pilotlight made for this stack (Managed) and, flagged Managed=false,
// foreign ones of the same source that retention never touches.
func List(ctx context.Context, env *awsenv.Env, cfg *spec.Config, region, resource string) ([]Point, error) {
	t, err := targetOf(cfg, resource)
	if err != nil {
		return nil, err
	}
	return newClients(env).kind(t.kind).list(ctx, cfg, t, region)
}

// NewestDR returns the newest available managed point of resource in the DR
// region. It calls only the DR region (failover uses it with the primary
// region dead) and does not need the source resource to exist.
//
// A database on the aws-backup engine has its points in the DR vault
// (NewestBackupDR); on auto, the newer of the two is returned, since which
// engine ran may have changed with AWS's answer.
func NewestDR(ctx context.Context, env *awsenv.Env, cfg *spec.Config, resource string) (Point, error) {
	return newestDR(ctx, newClients(env), cfg, resource)
}

func newestDR(ctx context.Context, c *clients, cfg *spec.Config, resource string) (Point, error) {
	t, err := targetOf(cfg, resource)
	if err != nil {
		return Point{}, err
	}
	var engine string
	if t.db != nil {
		engine = t.db.Engine
	}
	var ps []Point
	if engine != EngineAWSBackup {
		if ps, err = c.kind(t.kind).list(ctx, cfg, t, cfg.DR.Region); err != nil {
			return Point{}, err
		}
	}
	if engine == EngineAWSBackup || engine == EngineAuto {
		bp, err := newestBackupDR(ctx, c, cfg, resource)
		switch {
		case err == nil:
			ps = append(ps, bp)
		case engine == EngineAWSBackup || !errors.Is(err, ErrNotFound) && apiCode(err) != "ResourceNotFoundException":
			return Point{}, err
		}
	}
	if p, ok := newestAvailable(ps); ok {
		return p, nil
	}
	return Point{}, fmt.Errorf("%s: %s: %w (no available point made by pilotlight)", resource, cfg.DR.Region, ErrNotFound)
}

// Get returns one point by id in a region (for `failover --point ID`). A
// foreign point is returned only if it was made from the resource's source.
func Get(ctx context.Context, env *awsenv.Env, cfg *spec.Config, region, resource, id string) (Point, error) {
	t, err := targetOf(cfg, resource)
	if err != nil {
		return Point{}, err
	}
	return newClients(env).kind(t.kind).get(ctx, cfg, t, region, id)
}

// newestAvailable picks the newest available managed point.
func newestAvailable(ps []Point) (Point, bool) {
	var best Point
	found := false
	for _, p := range ps {
		if p.Managed && p.Available() && (!found || newer(p, best)) {
			best, found = p, true
		}
	}
	return best, found
}

// newer orders points by Created, then by id so that the order is total.
func newer(a, b Point) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.ID > b.ID
}

func sortNewestFirst(ps []Point) {
	sort.SliceStable(ps, func(i, j int) bool { return newer(ps[i], ps[j]) })
}

// target is one protected resource as the cycle sees it.
type target struct {
	name  string
	kind  Kind
	keep  spec.Keep
	every time.Duration
	// drKey is the configured DR KMS key and the config field that holds it.
	drKey, drKeyField string
	db                *spec.Database
	img               *spec.Image
}

// targetOf finds a database or image by name.
func targetOf(cfg *spec.Config, name string) (target, error) {
	for i := range cfg.Protect.Databases {
		d := &cfg.Protect.Databases[i]
		if d.ID == name {
			t := target{name: d.ID, kind: KindRDSInstance, keep: d.Keep, every: d.Every.Interval, drKey: d.DRKMSKey,
				drKeyField: fmt.Sprintf("protect.databases[%d].dr_kms_key", i), db: d}
			if d.IsCluster() {
				t.kind = KindRDSCluster
			}
			return t.withDefaults(), nil
		}
	}
	for i := range cfg.Protect.Images {
		im := &cfg.Protect.Images[i]
		if im.Name == name {
			t := target{name: im.Name, kind: KindAMI, keep: im.Keep, every: im.Every.Interval, drKey: im.DRKMSKey,
				drKeyField: fmt.Sprintf("protect.images[%d].dr_kms_key", i), img: im}
			return t.withDefaults(), nil
		}
	}
	if _, ok := cfg.Bucket(name); ok {
		return target{}, fmt.Errorf("%q is a bucket: recovery points are taken of databases and images only", name)
	}
	return target{}, fmt.Errorf("%q is not a protected database or image in %s", name, cfg.File)
}

// withDefaults guards against configs that did not pass spec's defaults
// (built in code, e.g. by the Lambda entry): never keep fewer than one.
func (t target) withDefaults() target {
	if t.keep.Primary < 1 {
		t.keep.Primary = 1
	}
	if t.keep.DR < 1 {
		t.keep.DR = 1
	}
	if t.every <= 0 {
		// cron schedules have no fixed interval; a day bounds how old an
		// unfinished point may be and still be resumed.
		t.every = 24 * time.Hour
	}
	return t
}

// targets resolves --only with spec's one rule (every database and image
// when empty). A bucket named there is not a typo, so the error says why it
// cannot be chosen: buckets have no recovery points.
func targets(cfg *spec.Config, only []string) ([]target, error) {
	names, err := cfg.Select(only, spec.KindPoints)
	if err != nil {
		var buckets []string
		for _, n := range only {
			if _, ok := cfg.Bucket(n); ok {
				buckets = append(buckets, n)
			}
		}
		if len(buckets) > 0 {
			return nil, fmt.Errorf("%w; %s: recovery points are taken of databases and images only, buckets are replicated", err, strings.Join(buckets, ", "))
		}
		return nil, err
	}
	out := make([]target, 0, len(names))
	for _, n := range names {
		t, err := targetOf(cfg, n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// stampLayout is the sortable UTC stamp at the end of every point's name.
const stampLayout = "20060102150405"

var amiNameBad = regexp.MustCompile(`[^A-Za-z0-9()./_'@-]+`)

// pointName is <stack>-<resource>-<yyyymmddhhmmss>: deterministic so that a
// DR copy and a re-run find it by name, and sortable. RDS identifiers allow
// letters, digits and single hyphens (the seed's underscores were
// rejected); when the result would exceed max, the resource part is cut and
// a short hash of it keeps names of different resources apart.
func pointName(stack, resource string, at time.Time, max int) string {
	stamp := at.UTC().Format(stampLayout)
	name := stack + "-" + resource + "-" + stamp
	if len(name) <= max {
		return name
	}
	h := fnv32(resource)
	keep := max - len(stack) - len(stamp) - len(h) - 3
	if keep < 1 {
		keep = 1
	}
	r := strings.TrimRight(resource[:min(keep, len(resource))], "-")
	return stack + "-" + r + "-" + h + "-" + stamp
}

// amiName is pointName with the characters AMI names reject replaced.
func amiName(stack, resource string, at time.Time) string {
	return pointName(stack, strings.Trim(amiNameBad.ReplaceAllString(resource, "-"), "-"), at, 128)
}

func fnv32(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return fmt.Sprintf("%06x", h&0xffffff)
}

// pointTags are the tags of a point made from source at created; copyOf is
// set on DR copies.
func pointTags(cfg *spec.Config, t target, source string, created time.Time, copyOf string) map[string]string {
	m := tags.With(tags.Base(cfg.Stack),
		tags.Resource, t.name,
		tags.Source, source,
		tags.Kind, string(t.kind),
		tags.Created, created.UTC().Format(time.RFC3339),
	)
	if copyOf != "" {
		m[tags.CopyOf] = copyOf
	}
	return m
}

// managedFor reports whether a tag set marks a point pilotlight made for
// this stack's resource.
func managedFor(m map[string]string, stack, resource string) bool {
	return tags.Managed(m, stack) && m[tags.Resource] == resource
}

// createdFrom reads the pilotlight:created tag, falling back to the
// service's own creation time.
func createdFrom(m map[string]string, fallback time.Time) time.Time {
	if s := m[tags.Created]; s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC()
		}
	}
	return fallback.UTC()
}
