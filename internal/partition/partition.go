// Package partition knows the AWS partitions, their regions and where the
// control planes of the global services live. It imports no SDK so that the
// config validator and the tests can use it without pulling in service clients.
package partition

import (
	"fmt"
	"sort"
	"strings"
)

// Partition is one AWS partition: an isolated set of regions that share
// credentials, ARNs and global services, and that nothing may cross.
type Partition struct {
	ID string // aws, aws-cn, aws-us-gov
	// DNSSuffix is the suffix of regional endpoints and service principals
	// (ec2.amazonaws.com.cn in China).
	DNSSuffix string
	// IAMHome and Route53Home are the regions whose endpoints host the
	// control planes of those global services: when that region is down, so
	// is the ability to change IAM or Route 53 anywhere in the partition.
	IAMHome     string
	Route53Home string
	Regions     []string
}

var partitions = []Partition{
	{
		ID: "aws", DNSSuffix: "amazonaws.com", IAMHome: "us-east-1", Route53Home: "us-east-1",
		Regions: []string{
			"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
			"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
			"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
			"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
			"eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
			"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
		},
	},
	{
		ID: "aws-cn", DNSSuffix: "amazonaws.com.cn", IAMHome: "cn-north-1", Route53Home: "cn-northwest-1",
		Regions: []string{"cn-north-1", "cn-northwest-1"},
	},
	{
		ID: "aws-us-gov", DNSSuffix: "amazonaws.com", IAMHome: "us-gov-west-1", Route53Home: "us-gov-west-1",
		Regions: []string{"us-gov-east-1", "us-gov-west-1"},
	},
}

// Of returns the partition a known region belongs to.
func Of(region string) (Partition, error) {
	for _, p := range partitions {
		for _, r := range p.Regions {
			if r == region {
				return p, nil
			}
		}
	}
	return Partition{}, fmt.Errorf("unknown region %q", region)
}

// ByID returns a partition by its id.
func ByID(id string) (Partition, bool) {
	for _, p := range partitions {
		if p.ID == id {
			return p, true
		}
	}
	return Partition{}, false
}

// Known reports whether region is a region pilotlight knows.
func Known(region string) bool {
	_, err := Of(region)
	return err == nil
}

// AllRegions lists every known region, sorted.
func AllRegions() []string {
	var out []string
	for _, p := range partitions {
		out = append(out, p.Regions...)
	}
	sort.Strings(out)
	return out
}

// ARN builds an ARN in this partition. Global services pass an empty region.
func (p Partition) ARN(service, region, account, resource string) string {
	return "arn:" + p.ID + ":" + service + ":" + region + ":" + account + ":" + resource
}

// ServicePrincipal is the principal a service uses in trust policies, e.g.
// ec2.amazonaws.com.cn in China.
func (p Partition) ServicePrincipal(service string) string {
	return service + "." + p.DNSSuffix
}

// HomeOf returns the region that hosts the control plane of a service as
// seen by a client of region: the region itself for regional services, the
// partition's home region for IAM and Route 53.
func HomeOf(service, region string) string {
	p, err := Of(region)
	if err != nil {
		return region
	}
	switch strings.ToLower(service) {
	case "iam":
		return p.IAMHome
	case "route53", "route 53":
		return p.Route53Home
	}
	return region
}

// SamePartition reports whether two regions are in one partition; a copy or
// restore between partitions is impossible on AWS and refused by pilotlight.
func SamePartition(a, b string) bool {
	pa, errA := Of(a)
	pb, errB := Of(b)
	return errA == nil && errB == nil && pa.ID == pb.ID
}

// ParseARN splits an ARN into its parts; ok is false when s is not an ARN.
func ParseARN(s string) (part, service, region, account, resource string, ok bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return "", "", "", "", "", false
	}
	return f[1], f[2], f[3], f[4], f[5], true
}

// BoundaryName is the managed policy every role pilotlight creates must
// carry as its permissions boundary. The generated policies of every verb
// (internal/iampolicy) allow CreateRole, PutRolePolicy and
// UpdateAssumeRolePolicy only with it, so a holder of those rights cannot
// make or grow a role beyond it.
func BoundaryName(stack string) string { return stack + "-pilotlight-boundary" }

// BoundaryARN is the ARN of BoundaryName(stack) in account, in the
// partition of region. Role creators pass it as PermissionsBoundary.
func BoundaryARN(region, account, stack string) (string, error) {
	p, err := Of(region)
	if err != nil {
		return "", fmt.Errorf("permissions boundary of %s: %w", stack, err)
	}
	return p.ARN("iam", "", account, "policy/"+BoundaryName(stack)), nil
}
