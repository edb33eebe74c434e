package tags

import (
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is m as an S3 tag set (bucket and object tagging).
func S3(m map[string]string) []s3types.Tag {
	return toList(m, func(k, v *string) s3types.Tag { return s3types.Tag{Key: k, Value: v} })
}

// FromS3 is an S3 tag set as a map.
func FromS3(list []s3types.Tag) map[string]string {
	return fromList(list, func(t s3types.Tag) (*string, *string) { return t.Key, t.Value })
}

// FromASG is an Auto Scaling group's tags as a map, whether or not they
// propagate to instances.
func FromASG(list []asgtypes.TagDescription) map[string]string {
	return fromList(list, func(t asgtypes.TagDescription) (*string, *string) { return t.Key, t.Value })
}
