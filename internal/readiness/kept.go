package readiness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// Kept is a DB or Aurora cluster snapshot pilotlight made outside the
// protect cycle, which retention therefore never prunes: a failback's
// snapshot (and its copy back) and a teardown's final snapshot of the
// recovered database.
type Kept struct {
	Region  string    `json:"region"`
	ID      string    `json:"id"`
	Why     string    `json:"why"`
	Created time.Time `json:"created,omitzero"`
	SizeGB  int32     `json:"size_gb"`
}

type keptRDS interface {
	DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
}

// ListKept lists the kept snapshots of the stack in regions. A final
// snapshot carries no tags (RDS copies the instance's only when asked), so
// it is known by the name teardown gives it: <recovered id>-final-<time>.
func ListKept(ctx context.Context, env *awsenv.Env, cfg *spec.Config, regions []string) ([]Kept, []string) {
	var out []Kept
	var errs []string
	for _, region := range regions {
		k, err := listKept(ctx, rds.NewFromConfig(env.For(region)), cfg, region)
		if err != nil {
			errs = append(errs, err.Error())
		}
		out = append(out, k...)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
	return out, errs
}

func listKept(ctx context.Context, c keptRDS, cfg *spec.Config, region string) ([]Kept, error) {
	base := cfg.Stack + "-db-dr"
	if d := cfg.Recover.Database; d != nil && d.Identifier != "" {
		base = d.Identifier
	}
	// why says whether a snapshot is kept, and why; "" for the rest.
	why := func(id string, t map[string]string) string {
		switch {
		case t[tags.Stack] == cfg.Stack && t[tags.OpKind] == "failback",
			strings.HasPrefix(id, cfg.Stack+"-") && strings.HasSuffix(id, "-fb"):
			return "failback's copy of the DR database"
		case strings.HasPrefix(id, base) && strings.Contains(id, "-final-"):
			return "teardown's final snapshot of the recovered database"
		}
		return ""
	}
	var out []Kept
	p := rds.NewDescribeDBSnapshotsPaginator(c, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("DB snapshots: %s: %w", region, err)
		}
		for _, s := range page.DBSnapshots {
			id := aws.ToString(s.DBSnapshotIdentifier)
			if w := why(id, tags.FromRDS(s.TagList)); w != "" {
				out = append(out, Kept{Region: region, ID: id, Why: w, Created: aws.ToTime(s.SnapshotCreateTime).UTC(), SizeGB: aws.ToInt32(s.AllocatedStorage)})
			}
		}
	}
	// An Aurora failback leaves its last cluster snapshot copy home, and a
	// cluster's teardown its final cluster snapshot.
	cp := rds.NewDescribeDBClusterSnapshotsPaginator(c, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
	for cp.HasMorePages() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("DB cluster snapshots: %s: %w", region, err)
		}
		for _, s := range page.DBClusterSnapshots {
			id := aws.ToString(s.DBClusterSnapshotIdentifier)
			if w := why(id, tags.FromRDS(s.TagList)); w != "" {
				out = append(out, Kept{Region: region, ID: id, Why: w, Created: aws.ToTime(s.SnapshotCreateTime).UTC(), SizeGB: aws.ToInt32(s.AllocatedStorage)})
			}
		}
	}
	return out, nil
}
