package readiness

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// keptSnapshots answers the two describe calls from fixed lists.
type keptSnapshots struct {
	db      []rdstypes.DBSnapshot
	cluster []rdstypes.DBClusterSnapshot
}

func (k keptSnapshots) DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	return &rds.DescribeDBSnapshotsOutput{DBSnapshots: k.db}, nil
}

func (k keptSnapshots) DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error) {
	return &rds.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: k.cluster}, nil
}

// An Aurora failback leaves its last cluster snapshot copy in the primary;
// `points` must list it beside an instance failback's, and nothing of
// another stack or of the protect cycle.
func TestListKeptNamesClusterSnapshots(t *testing.T) {
	cfg := &spec.Config{Stack: "shop"}
	failback := tags.RDS(map[string]string{tags.Stack: "shop", tags.OpKind: "failback"})
	other := tags.RDS(map[string]string{tags.Stack: "other", tags.OpKind: "failback"})
	got, err := listKept(context.Background(), keptSnapshots{
		db: []rdstypes.DBSnapshot{
			{DBSnapshotIdentifier: aws.String("shop-20261207-fb-final"), TagList: failback},
			{DBSnapshotIdentifier: aws.String("shop-db-20261207"), TagList: tags.RDS(map[string]string{tags.Stack: "shop"})},
		},
		cluster: []rdstypes.DBClusterSnapshot{
			{DBClusterSnapshotIdentifier: aws.String("shop-20261207-fb-last"), TagList: failback},
			{DBClusterSnapshotIdentifier: aws.String("other-20261207-fb-last"), TagList: other},
			{DBClusterSnapshotIdentifier: aws.String("shop-db-dr-final-20261207")},
		},
	}, cfg, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"shop-20261207-fb-final": true, "shop-20261207-fb-last": true, "shop-db-dr-final-20261207": true}
	if len(got) != len(want) {
		t.Fatalf("kept %+v, want exactly %v", got, want)
	}
	for _, k := range got {
		if !want[k.ID] || k.Region != "us-east-1" || k.Why == "" {
			t.Fatalf("kept %+v, want exactly %v", got, want)
		}
	}
}
