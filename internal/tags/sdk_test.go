package tags

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestSDKListsRoundTripSorted(t *testing.T) {
	m := map[string]string{Stack: "wp", ManagedBy: Tool, "b": ""}
	list := EC2(m)
	if len(list) != 3 || aws.ToString(list[0].Key) != "b" || aws.ToString(list[2].Key) != Stack {
		t.Fatalf("EC2 list not sorted by key: %+v", list)
	}
	back := FromEC2(list)
	if len(back) != 3 || back[Stack] != "wp" || back["b"] != "" {
		t.Fatalf("round trip lost tags: %v", back)
	}
	spec := EC2Spec(ec2types.ResourceTypeVpc, m)
	if spec[0].ResourceType != ec2types.ResourceTypeVpc || len(spec[0].Tags) != 3 {
		t.Fatalf("spec: %+v", spec)
	}
	if got := FromRDS(RDS(m)); got[ManagedBy] != Tool || len(got) != 3 {
		t.Fatalf("rds round trip: %v", got)
	}
	if got := FromELB(ELB(m)); len(got) != 3 {
		t.Fatalf("elb round trip: %v", got)
	}
	if got := FromElastiCache(ElastiCache(m)); len(got) != 3 {
		t.Fatalf("elasticache round trip: %v", got)
	}
	if got := FromIAM(IAM(m)); len(got) != 3 {
		t.Fatalf("iam round trip: %v", got)
	}
	if got := FromS3(S3(m)); len(got) != 3 || got[Stack] != "wp" {
		t.Fatalf("s3 round trip: %v", got)
	}
	asg := FromASG([]asgtypes.TagDescription{{Key: aws.String(Stack), Value: aws.String("wp"), PropagateAtLaunch: aws.Bool(false)}})
	if asg[Stack] != "wp" {
		t.Fatalf("asg: %v", asg)
	}
}
