package s3sync

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestReplicationEnabled reads the rule states readiness must tell apart:
// only an enabled rule to this replica counts.
func TestReplicationEnabled(t *testing.T) {
	rule := func(id string, st types.ReplicationRuleStatus, dest string) types.ReplicationRule {
		return types.ReplicationRule{ID: aws.String(id), Status: st, Destination: &types.Destination{Bucket: aws.String(dest)}}
	}
	for _, c := range []struct {
		name   string
		cfg    *types.ReplicationConfiguration
		wantID string
	}{
		{"no configuration", nil, ""},
		{"enabled to the replica", &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
			rule("pilotlight-media", types.ReplicationRuleStatusEnabled, "arn:aws-cn:s3:::media-dr")}}, "pilotlight-media"},
		{"disabled to the replica", &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
			rule("pilotlight-media", types.ReplicationRuleStatusDisabled, "arn:aws:s3:::media-dr")}}, ""},
		{"enabled to another bucket whose name ends alike", &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
			rule("other", types.ReplicationRuleStatusEnabled, "arn:aws:s3:::old-media-dr")}}, ""},
		{"second rule is the one", &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
			rule("other", types.ReplicationRuleStatusEnabled, "arn:aws:s3:::elsewhere"),
			rule("pilotlight-media", types.ReplicationRuleStatusEnabled, "arn:aws:s3:::media-dr")}}, "pilotlight-media"},
		{"no destination", &types.ReplicationConfiguration{Rules: []types.ReplicationRule{
			{ID: aws.String("x"), Status: types.ReplicationRuleStatusEnabled}}}, ""},
	} {
		id, ok := ReplicationEnabled(c.cfg, "media-dr")
		if id != c.wantID || ok != (c.wantID != "") {
			t.Errorf("%s: got %q, %v; want %q", c.name, id, ok, c.wantID)
		}
	}
}
