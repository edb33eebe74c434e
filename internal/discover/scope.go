package discover

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// scope decides which of the region's resources are the stack's: those
// carrying every --tag, or else those in the VPC of the one load balancer
// that has an app behind it. It never guesses between two candidates.
func (r *run) scope(ctx context.Context) error {
	if len(r.opts.Tags) > 0 {
		return r.scopeByTags(ctx)
	}
	return r.scopeByVPC(ctx)
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (r *run) scopeByTags(ctx context.Context) error {
	want := r.opts.Tags
	r.inScope = func(_ string, tags map[string]string) bool { return matches(tags, want) }
	lbTags, err := r.lbTags(ctx)
	if err != nil {
		return regionErr(r.c.Region, "read load balancer tags", err)
	}
	var tagged []elbtypes.LoadBalancer
	for _, lb := range r.lbs {
		if matches(lbTags[aws.ToString(lb.LoadBalancerArn)], want) {
			tagged = append(tagged, lb)
		}
	}
	r.d.Scope = Scope{By: "tags", Tags: want, Why: "only resources carrying all of the tags " + tagText(want) +
		" (Route 53 records cannot carry tags: those pointing at the chosen load balancer are included)"}
	if len(tagged) > 0 {
		backed, err := r.backed(ctx, tagged)
		if err != nil {
			return err
		}
		pick := tagged
		if len(backed) > 0 {
			pick = backed
		}
		sort.Slice(pick, func(i, j int) bool {
			return aws.ToString(pick[i].LoadBalancerName) < aws.ToString(pick[j].LoadBalancerName)
		})
		lb := pick[0]
		r.lb = &lb
		how := "first by name"
		if len(backed) > 0 {
			how = "first by name among those with an app behind them"
		}
		for _, other := range tagged {
			if aws.ToString(other.LoadBalancerArn) != aws.ToString(lb.LoadBalancerArn) {
				r.undecided("load balancer %s also carries the tags; pilotlight recovers one load balancer per stack, and %s was chosen (%s)",
					aws.ToString(other.LoadBalancerName), aws.ToString(lb.LoadBalancerName), how)
			}
		}
		r.d.Scope.VPC = aws.ToString(lb.VpcId)
	}
	return r.vpcCIDR(ctx)
}

// lbTags reads the tags of every load balancer, 20 at a time as the API
// allows.
func (r *run) lbTags(ctx context.Context) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for i := 0; i < len(r.lbs); i += 20 {
		var arns []string
		for _, lb := range r.lbs[i:min(i+20, len(r.lbs))] {
			arns = append(arns, aws.ToString(lb.LoadBalancerArn))
		}
		res, err := r.c.ELB.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})
		if err != nil {
			return nil, err
		}
		for _, td := range res.TagDescriptions {
			out[aws.ToString(td.ResourceArn)] = tags.FromELB(td.Tags)
		}
	}
	return out, nil
}

func (r *run) scopeByVPC(ctx context.Context) error {
	region := r.c.Region
	backed, err := r.backed(ctx, r.lbs)
	if err != nil {
		return err
	}
	var vpc, why string
	switch {
	case len(backed) == 1:
		r.lb = &backed[0]
		why = fmt.Sprintf("the VPC of load balancer %s, the only one with %s behind it", aws.ToString(r.lb.LoadBalancerName), r.behindText(*r.lb))
	case len(backed) > 1 || (len(backed) == 0 && len(r.lbs) > 1):
		pool := backed
		if len(pool) == 0 {
			pool = r.lbs
		}
		if r.opts.Stack != "" {
			var named []elbtypes.LoadBalancer
			for _, lb := range pool {
				if strings.Contains(strings.ToLower(aws.ToString(lb.LoadBalancerName)), strings.ToLower(r.opts.Stack)) {
					named = append(named, lb)
				}
			}
			if len(named) == 1 {
				r.lb = &named[0]
				why = fmt.Sprintf("the VPC of load balancer %s, the one of %d whose name contains the stack name %q", aws.ToString(r.lb.LoadBalancerName), len(pool), r.opts.Stack)
				break
			}
		}
		var names []string
		for _, lb := range pool {
			names = append(names, aws.ToString(lb.LoadBalancerName)+" in "+aws.ToString(lb.VpcId)+" ("+r.behindText(lb)+")")
		}
		sort.Strings(names)
		return &AmbiguousError{Region: region, Candidates: names}
	case len(r.lbs) == 1:
		r.lb = &r.lbs[0]
		why = fmt.Sprintf("the VPC of load balancer %s, the only load balancer (nothing is registered behind it)", aws.ToString(r.lb.LoadBalancerName))
	default:
		vpcs := r.resourceVPCs()
		switch len(vpcs) {
		case 0:
			return fmt.Errorf("%w in %s: %s", ErrNothingFound, region, r.emptyWhy())
		case 1:
			for v := range vpcs {
				vpc = v
			}
			why = fmt.Sprintf("no load balancer; every database, instance and cache is in %s", vpc)
		default:
			var list []string
			for v, n := range vpcs {
				list = append(list, fmt.Sprintf("%s (%d resources)", v, n))
			}
			sort.Strings(list)
			return fmt.Errorf("%s has no load balancer to tell the stack from the rest, and its databases, instances and caches are in %d VPCs (%s): pass --tag KEY=VALUE with the stack's tag",
				region, len(vpcs), strings.Join(list, ", "))
		}
	}
	if r.lb != nil {
		vpc = aws.ToString(r.lb.VpcId)
		for _, other := range r.lbs {
			if aws.ToString(other.VpcId) == vpc && aws.ToString(other.LoadBalancerArn) != aws.ToString(r.lb.LoadBalancerArn) {
				r.undecided("load balancer %s is in the same VPC but has no app behind it, or is not the chosen one: not included (pilotlight recovers one load balancer per stack)", aws.ToString(other.LoadBalancerName))
			}
		}
	}
	r.inScope = func(v string, _ map[string]string) bool { return v != "" && v == vpc }
	r.d.Scope = Scope{By: "vpc", VPC: vpc, Why: why + "; only resources in that VPC are included (pass --tag to choose by tags instead)"}
	return r.vpcCIDR(ctx)
}

// vpcCIDR reads the CIDR of the scope's VPC: the DR network that prepare
// builds copies it, as the seed's basic/ used one CIDR in both regions.
func (r *run) vpcCIDR(ctx context.Context) error {
	if r.d.Scope.VPC == "" {
		return nil
	}
	out, err := r.c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{r.d.Scope.VPC}})
	if err != nil {
		return regionErr(r.c.Region, "describe vpc "+r.d.Scope.VPC, err)
	}
	if len(out.Vpcs) > 0 {
		r.d.Scope.CIDR = aws.ToString(out.Vpcs[0].CidrBlock)
	}
	return nil
}

// resourceVPCs counts databases, instances and caches per VPC, for a region
// without a load balancer.
func (r *run) resourceVPCs() map[string]int {
	out := map[string]int{}
	add := func(v string) {
		if v != "" {
			out[v]++
		}
	}
	for _, db := range r.dbs {
		if db.DBClusterIdentifier == nil && db.DBSubnetGroup != nil {
			add(r.dbVPC(db))
		}
	}
	for _, cl := range r.clusters {
		add(r.dbSubnetVPC[aws.ToString(cl.DBSubnetGroup)])
	}
	for _, in := range r.instances {
		add(aws.ToString(in.VpcId))
	}
	for _, cc := range r.cacheClusters {
		add(r.cacheSubnet[aws.ToString(cc.CacheSubnetGroupName)])
	}
	return out
}

// lbTargetGroups returns the target groups that route for lb.
func (r *run) lbTargetGroups(lb elbtypes.LoadBalancer) []elbtypes.TargetGroup {
	var out []elbtypes.TargetGroup
	for _, tg := range r.tgs {
		for _, a := range tg.LoadBalancerArns {
			if a == aws.ToString(lb.LoadBalancerArn) {
				out = append(out, tg)
				break
			}
		}
	}
	return out
}

// asgsBehind returns the auto scaling groups attached to lb's target groups.
func (r *run) asgsBehind(lb elbtypes.LoadBalancer) []asgtypes.AutoScalingGroup {
	tgs := map[string]bool{}
	for _, tg := range r.lbTargetGroups(lb) {
		tgs[aws.ToString(tg.TargetGroupArn)] = true
	}
	var out []asgtypes.AutoScalingGroup
	for _, g := range r.asgs {
		for _, a := range g.TargetGroupARNs {
			if tgs[a] {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func (r *run) behindText(lb elbtypes.LoadBalancer) string {
	if gs := r.asgsBehind(lb); len(gs) > 0 {
		var names []string
		for _, g := range gs {
			names = append(names, aws.ToString(g.AutoScalingGroupName))
		}
		sort.Strings(names)
		return "auto scaling group " + strings.Join(names, ", ")
	}
	if n := len(r.registered[aws.ToString(lb.LoadBalancerArn)]); n > 0 {
		return fmt.Sprintf("%d registered instance(s)", n)
	}
	return "nothing registered"
}

// backed returns the load balancers with an app behind them: an auto
// scaling group attached to a target group, or instances registered in one.
func (r *run) backed(ctx context.Context, lbs []elbtypes.LoadBalancer) ([]elbtypes.LoadBalancer, error) {
	if r.registered == nil {
		r.registered = map[string][]string{}
	}
	var out []elbtypes.LoadBalancer
	for _, lb := range lbs {
		if len(r.asgsBehind(lb)) > 0 {
			out = append(out, lb)
			continue
		}
		ids, err := r.registeredInstances(ctx, lb)
		if err != nil {
			return nil, regionErr(r.c.Region, "describe targets of load balancer "+aws.ToString(lb.LoadBalancerName), err)
		}
		r.registered[aws.ToString(lb.LoadBalancerArn)] = ids
		if len(ids) > 0 {
			out = append(out, lb)
		}
	}
	return out, nil
}

// registeredInstances lists the instance targets of lb's target groups.
func (r *run) registeredInstances(ctx context.Context, lb elbtypes.LoadBalancer) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, tg := range r.lbTargetGroups(lb) {
		if tg.TargetType != "" && tg.TargetType != elbtypes.TargetTypeEnumInstance {
			continue
		}
		out, err := r.c.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			return nil, err
		}
		for _, d := range out.TargetHealthDescriptions {
			if d.Target == nil {
				continue
			}
			if id := aws.ToString(d.Target.Id); strings.HasPrefix(id, "i-") && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}
