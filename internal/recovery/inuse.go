package recovery

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Before `teardown --network` deletes the app role, a security group or a
// subnet, it asks who still uses it: after a failback the primary's new
// production runs with the same role, and a live failover's stack with the
// prepared groups and subnets. A user keeps the thing, and is named.

// inUseEC2 is the part of EC2 the in-use check reads.
type inUseEC2 interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
}

// inUseELB is the part of ELBv2 the in-use check reads.
type inUseELB interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
}

// users maps a resource (security group id, subnet id, or
// "instance-profile/<name>") to what uses it.
type users map[string][]string

func (u users) add(id, user string) {
	if !slices.Contains(u[id], user) {
		u[id] = append(u[id], user)
	}
}

// of lists the users of ids, as "id (used by a, b)".
func (u users) of(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if len(u[id]) > 0 {
			out = append(out, id+" (used by "+strings.Join(u[id], ", ")+")")
		}
	}
	return out
}

// findUsers reads, in one region, every live instance, launch template
// (latest and default versions) and load balancer, and what groups,
// subnets and instance profile each uses.
func findUsers(ctx context.Context, e inUseEC2, lb inUseELB, region string, u users) error {
	ip := ec2.NewDescribeInstancesPaginator(e, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"},
	}}})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe instances: %s: %w", region, err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				who := "instance " + aws.ToString(i.InstanceId) + " in " + region
				for _, g := range i.SecurityGroups {
					u.add(aws.ToString(g.GroupId), who)
				}
				u.add(aws.ToString(i.SubnetId), who)
				if i.IamInstanceProfile != nil {
					u.add("instance-profile/"+profileName(aws.ToString(i.IamInstanceProfile.Arn)), who)
				}
			}
		}
	}
	lp := ec2.NewDescribeLaunchTemplatesPaginator(e, &ec2.DescribeLaunchTemplatesInput{})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe launch templates: %s: %w", region, err)
		}
		for _, lt := range page.LaunchTemplates {
			id := aws.ToString(lt.LaunchTemplateId)
			who := "launch template " + aws.ToString(lt.LaunchTemplateName) + " (" + id + ") in " + region
			v, err := e.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Latest", "$Default"}})
			if err != nil {
				return fmt.Errorf("describe launch template %s: %s: %w", id, region, err)
			}
			for _, ver := range v.LaunchTemplateVersions {
				d := ver.LaunchTemplateData
				if d == nil {
					continue
				}
				for _, g := range d.SecurityGroupIds {
					u.add(g, who)
				}
				for _, ni := range d.NetworkInterfaces {
					for _, g := range ni.Groups {
						u.add(g, who)
					}
					u.add(aws.ToString(ni.SubnetId), who)
				}
				if p := d.IamInstanceProfile; p != nil {
					name := aws.ToString(p.Name)
					if name == "" {
						name = profileName(aws.ToString(p.Arn))
					}
					u.add("instance-profile/"+name, who)
				}
			}
		}
	}
	bp := elb.NewDescribeLoadBalancersPaginator(lb, &elb.DescribeLoadBalancersInput{})
	for bp.HasMorePages() {
		page, err := bp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe load balancers: %s: %w", region, err)
		}
		for _, b := range page.LoadBalancers {
			who := "load balancer " + aws.ToString(b.LoadBalancerName) + " in " + region
			for _, g := range b.SecurityGroups {
				u.add(g, who)
			}
			for _, z := range b.AvailabilityZones {
				u.add(aws.ToString(z.SubnetId), who)
			}
		}
	}
	return nil
}

// profileName is the name in an instance profile ARN (its path dropped).
func profileName(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// regionUsers reads the users of both regions of the stack: the role is
// global, and after a failback production runs in the primary.
func (r *Recovery) regionUsers(ctx context.Context) (users, error) {
	u := users{}
	for _, region := range []string{r.cfg.DR.Region, r.cfg.Primary.Region} {
		c := r.c
		if region != r.c.region {
			c = newClients(r.env, region)
		}
		if err := findUsers(ctx, c.ec2, c.elb, region, u); err != nil {
			return nil, err
		}
	}
	return u, nil
}
