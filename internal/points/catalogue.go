package points

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// CatalogueOptions select what the catalogue shows.
type CatalogueOptions struct {
	// Region is "primary", "dr" or "both" (default). With "dr" only the DR
	// region is called, so the catalogue works with the primary region down.
	Region string
	Only   []string
	// Now is the clock ages are measured against (default time.Now).
	Now         func() time.Time
	Parallelism int
}

// Copy states of a primary point.
const (
	CopyCopied    = "copied"
	CopyCopying   = "copying"
	CopyFailed    = "copy failed"
	CopyNotCopied = "not copied"
)

// CataloguePoint is a point with what the catalogue adds to it.
type CataloguePoint struct {
	Point
	// CopyState is, for a primary point, the state of its DR copy (copied,
	// copying, copy failed, not copied; "" for foreign points); for a DR
	// point, its own status.
	CopyState  string        `json:"copy_state"`
	Age        time.Duration `json:"-"`
	AgeSeconds int64         `json:"age_seconds"`
}

// ResourcePoints is the catalogue of one protected resource.
type ResourcePoints struct {
	Resource string           `json:"resource"`
	Kind     Kind             `json:"kind"`
	Points   []CataloguePoint `json:"points"`
	// NewestDR is the newest available managed DR point; its age is the
	// resource's current RPO. Empty when there is none.
	NewestDR   string        `json:"newest_dr,omitempty"`
	RPO        time.Duration `json:"-"`
	RPOSeconds *int64        `json:"rpo_seconds"`
	// TargetRPO is the configured target_rpo; OverTarget is set when the
	// RPO exceeds it or no DR point exists.
	TargetRPO        time.Duration `json:"-"`
	TargetRPOSeconds int64         `json:"target_rpo_seconds"`
	OverTarget       bool          `json:"over_target"`
	Error            string        `json:"error,omitempty"`
}

// Catalogue is every protected resource's recovery points.
type Catalogue struct {
	Stack     string           `json:"stack"`
	Primary   string           `json:"primary"`
	DR        string           `json:"dr"`
	Region    string           `json:"region"`
	Generated time.Time        `json:"generated"`
	Resources []ResourcePoints `json:"resources"`
}

// ReadCatalogue lists the points of every protected database and image (or
// those in opts.Only). The error, when not nil, names each resource whose
// points could not be listed; the catalogue holds the others.
func ReadCatalogue(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts CatalogueOptions) (*Catalogue, error) {
	return readCatalogue(ctx, newClients(env), cfg, opts)
}

func readCatalogue(ctx context.Context, c *clients, cfg *spec.Config, opts CatalogueOptions) (*Catalogue, error) {
	if opts.Region == "" {
		opts.Region = "both"
	}
	switch opts.Region {
	case "primary", "dr", "both":
	default:
		return nil, fmt.Errorf("region must be primary, dr or both, not %q", opts.Region)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 8
	}
	ts, err := targets(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	now := opts.Now().UTC()
	cat := &Catalogue{Stack: cfg.Stack, Primary: cfg.Primary.Region, DR: cfg.DR.Region, Region: opts.Region,
		Generated: now, Resources: make([]ResourcePoints, len(ts))}
	sem := make(chan struct{}, opts.Parallelism)
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cat.Resources[i] = resourcePoints(ctx, c, cfg, t, opts.Region, now)
		}()
	}
	wg.Wait()
	var bad []string
	for _, r := range cat.Resources {
		if r.Error != "" {
			bad = append(bad, r.Resource+": "+r.Error)
		}
	}
	if len(bad) > 0 {
		return cat, fmt.Errorf("cannot list the points of %d resource(s): %s", len(bad), strings.Join(bad, "; "))
	}
	return cat, nil
}

func resourcePoints(ctx context.Context, c *clients, cfg *spec.Config, t target, region string, now time.Time) ResourcePoints {
	rp := ResourcePoints{Resource: t.name, Kind: t.kind}
	switch {
	case t.db != nil:
		rp.TargetRPO = t.db.TargetRPO.D
	case t.img != nil:
		rp.TargetRPO = t.img.TargetRPO.D
	}
	rp.TargetRPOSeconds = int64(rp.TargetRPO / time.Second)
	k := c.kind(t.kind)
	// The DR list is needed in every view: for its points, the copy state
	// of primary points, and the RPO.
	dr, err := k.list(ctx, cfg, t, cfg.DR.Region)
	if err != nil {
		rp.Error = err.Error()
		return rp
	}
	var prim []Point
	if region != "dr" {
		if prim, err = k.list(ctx, cfg, t, cfg.Primary.Region); err != nil {
			rp.Error = err.Error()
			return rp
		}
	}
	for _, p := range prim {
		cp := CataloguePoint{Point: p, CopyState: CopyNotCopied}
		if !p.Managed {
			cp.CopyState = ""
		}
		if d, ok := copyIn(dr, p); ok {
			switch {
			case d.Available():
				cp.CopyState = CopyCopied
			case d.Status == StatusFailed:
				cp.CopyState = CopyFailed
			default:
				cp.CopyState = CopyCopying
			}
		}
		rp.Points = append(rp.Points, withAge(cp, now))
	}
	if region != "primary" {
		for _, p := range dr {
			rp.Points = append(rp.Points, withAge(CataloguePoint{Point: p, CopyState: p.Status}, now))
		}
	}
	if np, ok := newestAvailable(dr); ok {
		rp.NewestDR = np.ID
		rp.RPO = now.Sub(np.Created)
		secs := int64(rp.RPO / time.Second)
		rp.RPOSeconds = &secs
	}
	rp.OverTarget = rp.NewestDR == "" || OverRPO(rp.RPO, rp.TargetRPO)
	return rp
}

func withAge(cp CataloguePoint, now time.Time) CataloguePoint {
	if !cp.Created.IsZero() {
		cp.Age = now.Sub(cp.Created)
		cp.AgeSeconds = int64(cp.Age / time.Second)
	}
	return cp
}
