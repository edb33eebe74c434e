package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// StepDatabase is the database kind's step id.
const StepDatabase = "database"

// databaseKind restores the DB instance (or Aurora cluster) from the chosen
// recovery point, and deletes it on teardown.
type databaseKind struct{}

// databaseRDS is the part of RDS the database kind calls.
type databaseRDS interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	RestoreDBInstanceFromDBSnapshot(context.Context, *rds.RestoreDBInstanceFromDBSnapshotInput, ...func(*rds.Options)) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error)
	DeleteDBInstance(context.Context, *rds.DeleteDBInstanceInput, ...func(*rds.Options)) (*rds.DeleteDBInstanceOutput, error)
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	RestoreDBClusterFromSnapshot(context.Context, *rds.RestoreDBClusterFromSnapshotInput, ...func(*rds.Options)) (*rds.RestoreDBClusterFromSnapshotOutput, error)
	CreateDBInstance(context.Context, *rds.CreateDBInstanceInput, ...func(*rds.Options)) (*rds.CreateDBInstanceOutput, error)
	DeleteDBCluster(context.Context, *rds.DeleteDBClusterInput, ...func(*rds.Options)) (*rds.DeleteDBClusterOutput, error)
}

type databaseClients struct {
	region string
	rds    databaseRDS
}

func (c *clients) database() databaseClients { return databaseClients{region: c.region, rds: c.rds} }

// The database step hands on the DB's id and endpoint, as db_*.
func databaseOf(o runbook.Outputs) endpointOut { return endpointOf(o, "db") }

func (databaseKind) ID() string            { return StepDatabase }
func (databaseKind) After() []string       { return []string{StepPoints, StepNetwork} }
func (databaseKind) Used(r *Recovery) bool { return r.cfg.Recover.Database != nil }

func (databaseKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "restore DB " + r.n.db() + " in " + r.cfg.DR.Region + " (new identifier)"
	}
	return fmt.Sprintf("restore DB %s (%s) from the chosen DR snapshot, write its endpoint to SSM %s as soon as AWS gives it, and wait until available", r.n.db(), orDefault(r.cfg.Recover.Database.Class, "snapshot's class"), r.n.dbEndpointParameter())
}

func (databaseKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	p := pointsOf(rc.Outputs(StepPoints))
	t := r.stepTags(rc, StepDatabase, "database")
	cluster := p.DBKind == points.KindRDSCluster
	if cluster {
		t = tags.With(t, "engine", p.DBEngine)
	}
	host, port, err := restoreDatabase(ctx, r.handoffDatabase(rc, r.c.database()), r.cfg, r.n, p.DBPoint, cluster, r.network(rc), t, r.wait)
	if err != nil {
		return nil, err
	}
	return endpointOut{ID: r.n.db(), Host: host, Port: port}.outputs("db"), nil
}

func (databaseKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	if r.opts.Kind == KindDrill || opts.SkipFinalSnapshot {
		return "delete DB " + r.n.db() + " without a final snapshot"
	}
	return "delete DB " + r.n.db() + " after a final snapshot"
}

// Verify checks the DB came from the newest DR copy (or the point asked
// for), is available, and how old its data is.
func (databaseKind) Verify(ctx context.Context, r *Recovery, out journalOutputs, now time.Time) []report.Check {
	cfg := r.cfg
	d := cfg.Recover.Database
	if d == nil {
		return nil
	}
	const name = "database restored from the newest DR copy"
	var checks []report.Check
	p, db := pointsOf(out[StepPoints]), databaseOf(out[StepDatabase])
	newest, err := points.NewestDR(ctx, r.env, cfg, d.From)
	switch {
	case err != nil:
		checks = append(checks, check(name, false, "%v", err))
	case p.DBPoint != newest.ID && r.opts.PointID == "":
		checks = append(checks, check(name, false, "restored %s but the newest DR copy is %s", p.DBPoint, newest.ID))
	default:
		c := r.c.database()
		inst, err := describeInstance(ctx, c, db.ID)
		cl, _ := describeCluster(ctx, c, db.ID)
		ok := (inst != nil && aws.ToString(inst.DBInstanceStatus) == "available") || (cl != nil && aws.ToString(cl.Status) == "available")
		checks = append(checks, check(name, ok && err == nil, "%s from %s, available=%v", db.ID, p.DBPoint, ok))
	}
	if pd, ok := cfg.Database(d.From); ok {
		checks = append(checks, rpoCheck("database RPO", p.DBPointTime, pd.TargetRPO.D, now))
	}
	return checks
}

// restoreDatabase restores the DB instance (or Aurora cluster with one
// writer) from a DR snapshot, or re-attaches to the one a crashed run
// started, and waits until it is available.
func restoreDatabase(ctx context.Context, c databaseClients, cfg *spec.Config, n names, snapshot string, cluster bool, net Network, t map[string]string, wait waitPolicy) (host string, port int, err error) {
	d := cfg.Recover.Database
	id := n.db()
	sgs := d.SecurityGroups
	if len(sgs) == 0 && net.DBSecurityGroup != "" {
		sgs = []string{net.DBSecurityGroup}
	}
	if cluster {
		return restoreCluster(ctx, c, cfg, id, snapshot, sgs, net, t, wait)
	}
	existing, err := describeInstance(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if existing != nil && !ours(tags.FromRDS(existing.TagList), t) {
		return "", 0, notOurs("DB instance", id, c.region, tags.FromRDS(existing.TagList), t)
	}
	if existing == nil {
		in := &rds.RestoreDBInstanceFromDBSnapshotInput{
			DBInstanceIdentifier: aws.String(id),
			DBSnapshotIdentifier: aws.String(snapshot),
			DBSubnetGroupName:    aws.String(net.DBSubnetGroup),
			VpcSecurityGroupIds:  sgs,
			MultiAZ:              aws.Bool(d.MultiAZ),
			PubliclyAccessible:   aws.Bool(false),
			Tags:                 tags.RDS(t),
		}
		if d.Class != "" {
			in.DBInstanceClass = aws.String(d.Class)
		}
		if d.ParameterGroup != "" {
			in.DBParameterGroupName = aws.String(d.ParameterGroup)
		}
		if _, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, in); err != nil {
			var exists *rdstypes.DBInstanceAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("restore DB instance %s from %s: %s: %w", id, snapshot, c.region, err)
			}
			// Made by someone else between the describe and the restore.
			if db, err := describeInstance(ctx, c, id); err == nil && db != nil && !ours(tags.FromRDS(db.TagList), t) {
				return "", 0, notOurs("DB instance", id, c.region, tags.FromRDS(db.TagList), t)
			}
		}
	}
	db, err := waitFor(ctx, wait, "DB instance "+id, func(ctx context.Context) (*rdstypes.DBInstance, bool, error) {
		db, err := describeInstance(ctx, c, id)
		if err != nil || db == nil {
			return nil, false, err
		}
		switch s := aws.ToString(db.DBInstanceStatus); s {
		case "available":
			return db, true, nil
		case "failed", "incompatible-restore", "incompatible-parameters", "incompatible-network", "restore-error":
			return nil, false, fmt.Errorf("DB instance %s is %s", id, s)
		}
		return nil, false, nil
	})
	if err != nil {
		return "", 0, err
	}
	if db.Endpoint == nil {
		return "", 0, fmt.Errorf("DB instance %s is available but has no endpoint", id)
	}
	return aws.ToString(db.Endpoint.Address), int(aws.ToInt32(db.Endpoint.Port)), nil
}

func describeInstance(ctx context.Context, c databaseClients, id string) (*rdstypes.DBInstance, error) {
	out, err := c.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var nf *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB instance %s: %s: %w", id, c.region, err)
	}
	if len(out.DBInstances) == 0 {
		return nil, nil
	}
	return &out.DBInstances[0], nil
}

func describeCluster(ctx context.Context, c databaseClients, id string) (*rdstypes.DBCluster, error) {
	out, err := c.rds.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	var nf *rdstypes.DBClusterNotFoundFault
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB cluster %s: %s: %w", id, c.region, err)
	}
	if len(out.DBClusters) == 0 {
		return nil, nil
	}
	return &out.DBClusters[0], nil
}

// restoreCluster restores an Aurora cluster and adds one writer instance:
// a restored cluster has no instances and serves nothing until it does.
func restoreCluster(ctx context.Context, c databaseClients, cfg *spec.Config, id, snapshot string, sgs []string, net Network, t map[string]string, wait waitPolicy) (string, int, error) {
	d := cfg.Recover.Database
	cl, err := describeCluster(ctx, c, id)
	if err != nil {
		return "", 0, err
	}
	if cl != nil && !ours(tags.FromRDS(cl.TagList), t) {
		return "", 0, notOurs("DB cluster", id, c.region, tags.FromRDS(cl.TagList), t)
	}
	if cl == nil {
		// Engine is required by the API; the DR copy records it.
		engine := t["engine"]
		if engine == "" {
			engine = "aurora-mysql"
		}
		in := &rds.RestoreDBClusterFromSnapshotInput{
			DBClusterIdentifier: aws.String(id), SnapshotIdentifier: aws.String(snapshot), Engine: aws.String(engine),
			DBSubnetGroupName: aws.String(net.DBSubnetGroup), VpcSecurityGroupIds: sgs, Tags: tags.RDS(withoutKey(t, "engine")),
		}
		if _, err := c.rds.RestoreDBClusterFromSnapshot(ctx, in); err != nil {
			var exists *rdstypes.DBClusterAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("restore DB cluster %s from %s: %s: %w", id, snapshot, c.region, err)
			}
		}
		cl, err = describeCluster(ctx, c, id)
		if err != nil || cl == nil {
			return "", 0, fmt.Errorf("restored DB cluster %s not found: %s: %w", id, c.region, err)
		}
		if !ours(tags.FromRDS(cl.TagList), t) {
			return "", 0, notOurs("DB cluster", id, c.region, tags.FromRDS(cl.TagList), t)
		}
	}
	writer := fit(id+"-1", 63)
	inst, err := describeInstance(ctx, c, writer)
	if err != nil {
		return "", 0, err
	}
	if inst != nil && (!ours(tags.FromRDS(inst.TagList), t) || aws.ToString(inst.DBClusterIdentifier) != id) {
		return "", 0, notOurs("DB instance", writer, c.region, tags.FromRDS(inst.TagList), t)
	}
	if inst == nil {
		class := d.Class
		if class == "" {
			class = "db.r6g.large"
		}
		if _, err := c.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(writer), DBClusterIdentifier: aws.String(id), Engine: cl.Engine,
			DBInstanceClass: aws.String(class), Tags: tags.RDS(withoutKey(t, "engine")),
		}); err != nil {
			var exists *rdstypes.DBInstanceAlreadyExistsFault
			if !errors.As(err, &exists) {
				return "", 0, fmt.Errorf("create writer %s in cluster %s: %s: %w", writer, id, c.region, err)
			}
		}
	}
	got, err := waitFor(ctx, wait, "DB cluster "+id, func(ctx context.Context) (*rdstypes.DBCluster, bool, error) {
		cl, err := describeCluster(ctx, c, id)
		if err != nil || cl == nil {
			return nil, false, err
		}
		in, err := describeInstance(ctx, c, writer)
		if err != nil || in == nil {
			return nil, false, err
		}
		return cl, aws.ToString(cl.Status) == "available" && aws.ToString(in.DBInstanceStatus) == "available", nil
	})
	if err != nil {
		return "", 0, err
	}
	return aws.ToString(got.Endpoint), int(aws.ToInt32(got.Port)), nil
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// Teardown deletes the recovered DB (instance, or cluster and writer),
// after a final snapshot unless told otherwise or a drill's.
func (databaseKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.database()
	id := r.n.db()
	out := runbook.Outputs{}
	inst, err := describeInstance(ctx, c, id)
	if err != nil {
		return nil, err
	}
	cl, err := describeCluster(ctx, c, id)
	if err != nil {
		return nil, err
	}
	skipFinal := opts.SkipFinalSnapshot || r.opts.Kind == KindDrill
	final := finalSnapshotName(id, opts.Now(), cl != nil)
	if cl != nil {
		writer := fit(id+"-1", 63)
		if w, err := describeInstance(ctx, c, writer); err == nil && w != nil && r.ownedRDS(w.TagList) {
			if _, err := c.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer), SkipFinalSnapshot: aws.Bool(true)}); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB instance %s: %s: %w", writer, c.region, err)
			}
		}
		if r.ownedRDS(cl.TagList) {
			in := &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(skipFinal)}
			if !skipFinal {
				in.FinalDBSnapshotIdentifier = aws.String(final)
				out["final_snapshot"] = final
			}
			if _, err := c.rds.DeleteDBCluster(ctx, in); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB cluster %s: %s: %w", id, c.region, err)
			}
			out["deleted"] = id
		}
	}
	if inst != nil && inst.DBClusterIdentifier == nil {
		if !r.ownedRDS(inst.TagList) {
			return runbook.Outputs{"skipped": id}, nil
		}
		if aws.ToString(inst.DBInstanceStatus) != "deleting" {
			in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(skipFinal)}
			if !skipFinal {
				in.FinalDBSnapshotIdentifier = aws.String(final)
				out["final_snapshot"] = final
			}
			if _, err := c.rds.DeleteDBInstance(ctx, in); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB instance %s: %s: %w", id, c.region, err)
			}
		}
		_, err := waitFor(ctx, r.wait, "deletion of DB "+id, func(ctx context.Context) (struct{}, bool, error) {
			in, err := describeInstance(ctx, c, id)
			return struct{}{}, in == nil, err
		})
		if err != nil {
			return nil, err
		}
		out["deleted"] = id
	}
	return out, nil
}

func (r *Recovery) ownedRDS(tl []rdstypes.Tag) bool { return r.owned(tags.FromRDS(tl)) }

func isRDSNotFound(err error) bool {
	var a *rdstypes.DBInstanceNotFoundFault
	var b *rdstypes.DBClusterNotFoundFault
	return errors.As(err, &a) || errors.As(err, &b)
}
