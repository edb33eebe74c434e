package recovery

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// fakeRDS answers describe calls with what AWS says during an Aurora
// restore: the cluster has its endpoint at once, the writer instance its
// own (not the one the app should use).
type fakeRDS struct {
	databaseRDS
	clusters  []rdstypes.DBCluster
	instances []rdstypes.DBInstance
}

func (f *fakeRDS) DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error) {
	return &rds.DescribeDBClustersOutput{DBClusters: f.clusters}, nil
}

func (f *fakeRDS) DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	return &rds.DescribeDBInstancesOutput{DBInstances: f.instances}, nil
}

type fakeSSM struct {
	handoffSSM
	puts map[string]string
}

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	f.puts[aws.ToString(in.Name)] = aws.ToString(in.Value)
	return &ssm.PutParameterOutput{}, nil
}

// TestHandoffPublishesWhatTheAppUses: an Aurora cluster's endpoint is
// published from the first describe that shows it, still "creating"; the
// writer instance's endpoint never is; an instance still without an
// endpoint, or someone else's, is not published.
func TestHandoffPublishesWhatTheAppUses(t *testing.T) {
	cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
	r := New(cfg, testenv.AWS(t, "http://127.0.0.1:1"), Options{})
	ours := tags.RDS(tags.With(tags.Base(cfg.Stack), tags.OpKind, KindFailover))
	id := r.n.db()
	for _, c := range []struct {
		name      string
		clusters  []rdstypes.DBCluster
		instances []rdstypes.DBInstance
		want      string
	}{
		{"aurora cluster while creating", []rdstypes.DBCluster{{DBClusterIdentifier: aws.String(id), Status: aws.String("creating"), Endpoint: aws.String("c.cluster-x.rds.amazonaws.com"), Port: aws.Int32(3306), TagList: ours}},
			[]rdstypes.DBInstance{{DBInstanceIdentifier: aws.String(id + "-1"), DBClusterIdentifier: aws.String(id), Endpoint: &rdstypes.Endpoint{Address: aws.String("writer.x.rds.amazonaws.com"), Port: aws.Int32(3306)}, TagList: ours}},
			"c.cluster-x.rds.amazonaws.com:3306"},
		{"writer only", nil,
			[]rdstypes.DBInstance{{DBInstanceIdentifier: aws.String(id), DBClusterIdentifier: aws.String(id), Endpoint: &rdstypes.Endpoint{Address: aws.String("writer.x.rds.amazonaws.com"), Port: aws.Int32(3306)}, TagList: ours}},
			""},
		{"instance without an endpoint yet", nil, []rdstypes.DBInstance{{DBInstanceIdentifier: aws.String(id), DBInstanceStatus: aws.String("creating"), TagList: ours}}, ""},
		{"instance restoring with its endpoint", nil,
			[]rdstypes.DBInstance{{DBInstanceIdentifier: aws.String(id), DBInstanceStatus: aws.String("backing-up"), Endpoint: &rdstypes.Endpoint{Address: aws.String("db.x.rds.amazonaws.com"), Port: aws.Int32(3306)}, TagList: ours}},
			"db.x.rds.amazonaws.com:3306"},
		{"someone else's instance", nil,
			[]rdstypes.DBInstance{{DBInstanceIdentifier: aws.String(id), Endpoint: &rdstypes.Endpoint{Address: aws.String("theirs.x.rds.amazonaws.com"), Port: aws.Int32(3306)}}},
			""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &fakeSSM{puts: map[string]string{}}
			pub := &publishOnce{c: handoffClients{region: "us-west-2", ssm: s}, name: r.n.dbEndpointParameter()}
			h := handoffRDS{databaseRDS: &fakeRDS{clusters: c.clusters, instances: c.instances}, id: id, r: r, pub: pub}
			if _, err := h.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{}); err != nil {
				t.Fatal(err)
			}
			if got := s.puts["/shop/recovery/db-endpoint"]; got != c.want || len(s.puts) > 1 {
				t.Fatalf("published %v, want %q", s.puts, c.want)
			}
		})
	}
}
