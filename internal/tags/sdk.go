package tags

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// Every SDK service has its own Tag struct with the same two fields. These
// are the one place a tag map becomes an SDK list and back. Lists come out
// sorted by key, so requests (and the tests that record them) are stable.

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func toList[T any](m map[string]string, mk func(k, v *string) T) []T {
	out := make([]T, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, mk(aws.String(k), aws.String(m[k])))
	}
	return out
}

func fromList[T any](list []T, kv func(T) (*string, *string)) map[string]string {
	out := make(map[string]string, len(list))
	for _, t := range list {
		k, v := kv(t)
		out[aws.ToString(k)] = aws.ToString(v)
	}
	return out
}

// EC2 is m as an EC2 tag list.
func EC2(m map[string]string) []ec2types.Tag {
	return toList(m, func(k, v *string) ec2types.Tag { return ec2types.Tag{Key: k, Value: v} })
}

// EC2Spec is m as the TagSpecifications of a create call for kind.
func EC2Spec(kind ec2types.ResourceType, m map[string]string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: EC2(m)}}
}

// FromEC2 is an EC2 tag list as a map.
func FromEC2(list []ec2types.Tag) map[string]string {
	return fromList(list, func(t ec2types.Tag) (*string, *string) { return t.Key, t.Value })
}

// RDS is m as an RDS tag list.
func RDS(m map[string]string) []rdstypes.Tag {
	return toList(m, func(k, v *string) rdstypes.Tag { return rdstypes.Tag{Key: k, Value: v} })
}

// FromRDS is an RDS tag list as a map.
func FromRDS(list []rdstypes.Tag) map[string]string {
	return fromList(list, func(t rdstypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// ELB is m as an Elastic Load Balancing v2 tag list.
func ELB(m map[string]string) []elbtypes.Tag {
	return toList(m, func(k, v *string) elbtypes.Tag { return elbtypes.Tag{Key: k, Value: v} })
}

// FromELB is an Elastic Load Balancing v2 tag list as a map.
func FromELB(list []elbtypes.Tag) map[string]string {
	return fromList(list, func(t elbtypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// ElastiCache is m as an ElastiCache tag list.
func ElastiCache(m map[string]string) []ectypes.Tag {
	return toList(m, func(k, v *string) ectypes.Tag { return ectypes.Tag{Key: k, Value: v} })
}

// FromElastiCache is an ElastiCache tag list as a map.
func FromElastiCache(list []ectypes.Tag) map[string]string {
	return fromList(list, func(t ectypes.Tag) (*string, *string) { return t.Key, t.Value })
}

// IAM is m as an IAM tag list.
func IAM(m map[string]string) []iamtypes.Tag {
	return toList(m, func(k, v *string) iamtypes.Tag { return iamtypes.Tag{Key: k, Value: v} })
}

// FromIAM is an IAM tag list as a map.
func FromIAM(list []iamtypes.Tag) map[string]string {
	return fromList(list, func(t iamtypes.Tag) (*string, *string) { return t.Key, t.Value })
}
