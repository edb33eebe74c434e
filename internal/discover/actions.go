package discover

import "sort"

// actions are the IAM actions behind every method of the client
// interfaces in clients.go; a test keeps the two lists equal.
var actions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribeLaunchConfigurations",
	"ec2:DescribeInstanceAttribute",
	"ec2:DescribeInstances",
	"ec2:DescribeLaunchTemplateVersions",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSubnets",
	"ec2:DescribeVpcs",
	"elasticache:DescribeCacheClusters",
	"elasticache:DescribeCacheSubnetGroups",
	"elasticache:DescribeReplicationGroups",
	"elasticache:ListTagsForResource",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeTags",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
	"iam:GetInstanceProfile",
	"iam:GetPolicy",
	"iam:GetPolicyVersion",
	"iam:GetRolePolicy",
	"iam:ListAttachedRolePolicies",
	"iam:ListRolePolicies",
	"rds:DescribeDBClusters",
	"rds:DescribeDBInstances",
	"rds:DescribeDBSubnetGroups",
	"route53:ListHostedZones",
	"route53:ListResourceRecordSets",
	"s3:GetBucketLocation",
	"s3:GetBucketTagging",
	"s3:ListAllMyBuckets",
}

// Actions lists every IAM action `pilotlight init` may call, sorted. All
// of them only read; `pilotlight iam-policy --for init` prints them.
func Actions() []string {
	out := append([]string{}, actions...)
	sort.Strings(out)
	return out
}
