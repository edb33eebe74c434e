package recovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// An Aurora cluster comes home the way an instance of an engine without a
// cross-region replica does: a cluster snapshot copied back while DR
// serves, and a last one after the freeze, from which the database step
// restores the cluster and its writer in the primary region. Aurora
// copies cluster snapshots across regions in full, never incrementally,
// so the freeze holds one whole copy; the first copy is still worth its
// cost: a missing key, quota or permission fails it while users write,
// not after they were stopped.

// clusterRDS is the part of RDS a failback reads of the DR cluster.
type clusterRDS interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
}

// cluster reports whether the database failback moves is an Aurora
// cluster, as protect.databases says.
func (f *Failback) cluster() bool {
	d := f.cfg.Recover.Database
	if d == nil {
		return false
	}
	pd, ok := f.cfg.Database(d.From)
	return ok && pd.IsCluster()
}

// describeSource reads the DR database failback moves home.
func (f *Failback) describeSource(ctx context.Context) (sourceDB, error) {
	if f.cluster() {
		return describeSourceCluster(ctx, rds.NewFromConfig(f.env.For(f.cfg.DR.Region)), f.cfg.DR.Region, f.dr.n.db())
	}
	return describeSourceDB(ctx, f.env, f.cfg.DR.Region, f.dr.n.db())
}

// describeSourceCluster reads DB cluster id of region.
func describeSourceCluster(ctx context.Context, api clusterRDS, region, id string) (sourceDB, error) {
	out, err := api.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	var nf *rdstypes.DBClusterNotFoundFault
	if errors.As(err, &nf) || (err == nil && len(out.DBClusters) == 0) {
		return sourceDB{}, fmt.Errorf("DB cluster %s not found in %s", id, region)
	}
	if err != nil {
		return sourceDB{}, fmt.Errorf("describe DB cluster %s: %s: %w", id, region, err)
	}
	cl := out.DBClusters[0]
	return sourceDB{ID: id, ARN: aws.ToString(cl.DBClusterArn), Engine: aws.ToString(cl.Engine), Encrypted: aws.ToBool(cl.StorageEncrypted), Cluster: true}, nil
}

// checkTargetFree refuses, before anything is frozen, a failback whose
// new database identifier (and, for a cluster, its writer's) is taken by
// a DB this run did not make: an earlier failback's, which may be the
// production that serves, or anyone else's. Finding it only in the
// database step would stop users for nothing.
func (f *Failback) checkTargetFree(ctx context.Context, rc *runbook.RunContext) error {
	c := f.home.c.database()
	want := f.home.stepTags(rc, StepDatabase, "database")
	id := f.home.n.db()
	hint := func(err error) error {
		return fmt.Errorf("%w. If an earlier failback made it, it may be what serves now: apply the config change that failback printed (recover.database.from: %s) or retire it first", err, id)
	}
	inst, err := describeInstance(ctx, c, id)
	if err != nil {
		return err
	}
	// A replica this run started is its own (replica mode re-attaches).
	if inst != nil && !ours(tags.FromRDS(inst.TagList), want) {
		return hint(notOurs("DB instance", id, c.region, tags.FromRDS(inst.TagList), want))
	}
	if !f.cluster() {
		return nil
	}
	cl, err := describeCluster(ctx, c, id)
	if err != nil {
		return err
	}
	if cl != nil && !ours(tags.FromRDS(cl.TagList), want) {
		return hint(notOurs("DB cluster", id, c.region, tags.FromRDS(cl.TagList), want))
	}
	writer := fit(id+"-1", 63)
	w, err := describeInstance(ctx, c, writer)
	if err != nil {
		return err
	}
	if w != nil && !ours(tags.FromRDS(w.TagList), want) {
		return hint(notOurs("DB instance", writer, c.region, tags.FromRDS(w.TagList), want))
	}
	return nil
}

// clusterSnapshotMax is the longest DB cluster snapshot identifier RDS
// accepts (an instance snapshot's may be 255).
const clusterSnapshotMax = 63
