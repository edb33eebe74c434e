package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// StepLoadBalancer is the load-balancer kind's step id.
const StepLoadBalancer = "load-balancer"

// loadBalancerKind is the app's ALB with its target group and listener: a
// new one per operation, or in failover-records mode the one `prepare`
// made, which the SECONDARY record already points at.
type loadBalancerKind struct{}

// lbAPI is the part of ELBv2 the load balancer kind calls.
type lbAPI interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	CreateLoadBalancer(context.Context, *elb.CreateLoadBalancerInput, ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error)
	DeleteLoadBalancer(context.Context, *elb.DeleteLoadBalancerInput, ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error)
	DescribeTargetGroups(context.Context, *elb.DescribeTargetGroupsInput, ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	CreateTargetGroup(context.Context, *elb.CreateTargetGroupInput, ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error)
	ModifyTargetGroup(context.Context, *elb.ModifyTargetGroupInput, ...func(*elb.Options)) (*elb.ModifyTargetGroupOutput, error)
	DeleteTargetGroup(context.Context, *elb.DeleteTargetGroupInput, ...func(*elb.Options)) (*elb.DeleteTargetGroupOutput, error)
	DescribeListeners(context.Context, *elb.DescribeListenersInput, ...func(*elb.Options)) (*elb.DescribeListenersOutput, error)
	CreateListener(context.Context, *elb.CreateListenerInput, ...func(*elb.Options)) (*elb.CreateListenerOutput, error)
	DescribeTags(context.Context, *elb.DescribeTagsInput, ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
}

type lbClients struct {
	region string
	elb    lbAPI
}

func (c *clients) loadBalancer() lbClients { return lbClients{region: c.region, elb: c.elb} }

// targetHealthAPI reads a target group's health: the app waits on it, the
// DNS of failover-records mode and the drill's checks read it.
type targetHealthAPI interface {
	DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

type targetHealth struct {
	region string
	elb    targetHealthAPI
}

func (c *clients) targetHealth() targetHealth { return targetHealth{region: c.region, elb: c.elb} }

// LoadBalancer is an ALB with its target group.
type LoadBalancer struct {
	ARN, DNS, TargetGroup string
}

func (lb LoadBalancer) outputs() runbook.Outputs {
	return outputs("lb_arn", lb.ARN, "lb_dns", lb.DNS, "tg_arn", lb.TargetGroup)
}

func loadBalancerOf(o runbook.Outputs) LoadBalancer {
	return LoadBalancer{ARN: o["lb_arn"], DNS: o["lb_dns"], TargetGroup: o["tg_arn"]}
}

func (loadBalancerKind) ID() string            { return StepLoadBalancer }
func (loadBalancerKind) After() []string       { return []string{StepNetwork} }
func (loadBalancerKind) Used(r *Recovery) bool { return r.cfg.Recover.App != nil }

func (loadBalancerKind) Plan(r *Recovery) string {
	switch {
	case r.opts.Kind == KindFailback:
		return "load balancer " + r.n.lb() + " in " + r.cfg.DR.Region
	case r.usesPreparedLB():
		return "use the prepared DR load balancer " + r.n.preparedLB() + " (failover-records mode)"
	}
	return fmt.Sprintf("load balancer %s, target group %s, listener HTTP:%d", r.n.lb(), r.n.tg(), r.cfg.Recover.App.LoadBalancer.Port)
}

func (loadBalancerKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := r.c.loadBalancer()
	if r.usesPreparedLB() {
		lb, err := findPreparedLB(ctx, c, r.n)
		if err != nil {
			return nil, err
		}
		return lb.outputs(), waitLBActive(ctx, c, r.wait, lb.ARN)
	}
	var ch changes
	lb, err := ensureLoadBalancer(ctx, c, r.cfg, r.n.lb(), r.n.tg(), r.network(rc), r.stepTags(rc, StepLoadBalancer, "load-balancer"), &ch)
	if err != nil {
		return nil, err
	}
	return lb.outputs(), waitLBActive(ctx, c, r.wait, lb.ARN)
}

// waitLBActive waits until the ALB leaves `provisioning`: it routes no
// traffic before it is `active`, which takes minutes on AWS, so the step is
// not done until then (`active_impaired` routes, so it counts as active).
func waitLBActive(ctx context.Context, c lbClients, p waitPolicy, arn string) error {
	_, err := waitFor(ctx, p, "load balancer "+arn+" in "+c.region+" to be active", func(ctx context.Context) (struct{}, bool, error) {
		out, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
		if err != nil {
			return struct{}{}, false, fmt.Errorf("describe load balancer %s: %s: %w", arn, c.region, err)
		}
		for _, lb := range out.LoadBalancers {
			if lb.State == nil {
				return struct{}{}, true, nil
			}
			switch lb.State.Code {
			case elbtypes.LoadBalancerStateEnumActive, elbtypes.LoadBalancerStateEnumActiveImpaired:
				return struct{}{}, true, nil
			case elbtypes.LoadBalancerStateEnumFailed:
				return struct{}{}, false, fmt.Errorf("load balancer %s: %s: failed: %s", arn, c.region, aws.ToString(lb.State.Reason))
			}
		}
		return struct{}{}, false, nil
	})
	return err
}

func (loadBalancerKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	return "delete load balancer " + r.n.lb() + " and target group " + r.n.tg() + " (not the prepared DR load balancer)"
}

// ensureLoadBalancer finds or makes an internet-facing ALB, its target
// group and its HTTP listener. ELBv2 (and moto) would make a second ALB of
// the same name, so the name is looked up first.
func ensureLoadBalancer(ctx context.Context, c lbClients, cfg *spec.Config, lbName, tgName string, net Network, t map[string]string, ch *changes) (LoadBalancer, error) {
	a := cfg.Recover.App
	var lb LoadBalancer
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{tgName}})
	var tgnf *elbtypes.TargetGroupNotFoundException
	switch {
	case err == nil && len(tgs.TargetGroups) > 0:
		lb.TargetGroup = aws.ToString(tgs.TargetGroups[0].TargetGroupArn)
		if err := checkELBOwner(ctx, c, "target group", tgName, lb.TargetGroup, t); err != nil {
			return lb, err
		}
		// A target group prepared before the matcher was configurable
		// counts an app's redirect as unhealthy.
		m := tgs.TargetGroups[0].Matcher
		if (m == nil || aws.ToString(m.HttpCode) != a.LoadBalancer.TargetMatcher()) &&
			!ch.would("make target group %s count HTTP %s as healthy", tgName, a.LoadBalancer.TargetMatcher()) {
			if _, err := c.elb.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
				TargetGroupArn: aws.String(lb.TargetGroup), Matcher: &elbtypes.Matcher{HttpCode: aws.String(a.LoadBalancer.TargetMatcher())},
			}); err != nil {
				return lb, fmt.Errorf("set the healthy codes of target group %s: %s: %w", tgName, c.region, err)
			}
			ch.add("target group %s counts HTTP %s as healthy", tgName, a.LoadBalancer.TargetMatcher())
		}
	case (err == nil || errors.As(err, &tgnf)) && ch.would("create target group %s", tgName):
		lb.TargetGroup = placeholder("target group")
	case err == nil || errors.As(err, &tgnf):
		out, err := c.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(tgName), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(net.VPC),
			TargetType: elbtypes.TargetTypeEnumInstance, HealthCheckPath: aws.String(a.LoadBalancer.HealthCheckPath),
			Matcher: &elbtypes.Matcher{HttpCode: aws.String(a.LoadBalancer.TargetMatcher())},
			Tags:    tags.ELB(t),
		})
		if err != nil {
			return lb, fmt.Errorf("create target group %s: %s: %w", tgName, c.region, err)
		}
		lb.TargetGroup = aws.ToString(out.TargetGroups[0].TargetGroupArn)
		ch.add("created target group %s", tgName)
	default:
		return lb, fmt.Errorf("describe target group %s: %s: %w", tgName, c.region, err)
	}
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{lbName}})
	var lbnf *elbtypes.LoadBalancerNotFoundException
	switch {
	case err == nil && len(lbs.LoadBalancers) > 0:
		lb.ARN, lb.DNS = aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn), aws.ToString(lbs.LoadBalancers[0].DNSName)
		if err := checkELBOwner(ctx, c, "load balancer", lbName, lb.ARN, t); err != nil {
			return lb, err
		}
	case (err == nil || errors.As(err, &lbnf)) && ch.would("create load balancer %s", lbName):
		lb.ARN, lb.DNS = placeholder("load balancer"), placeholder("load balancer "+lbName+" DNS name")
	case err == nil || errors.As(err, &lbnf):
		sgs := []string{}
		if net.LBSecurityGroup != "" {
			sgs = append(sgs, net.LBSecurityGroup)
		}
		out, err := c.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
			Name: aws.String(lbName), Subnets: net.PublicSubnets, SecurityGroups: sgs,
			Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Type: elbtypes.LoadBalancerTypeEnumApplication,
			Tags: tags.ELB(t),
		})
		if err != nil {
			return lb, fmt.Errorf("create load balancer %s: %s: %w", lbName, c.region, err)
		}
		lb.ARN, lb.DNS = aws.ToString(out.LoadBalancers[0].LoadBalancerArn), aws.ToString(out.LoadBalancers[0].DNSName)
		ch.add("created load balancer %s", lbName)
	default:
		return lb, fmt.Errorf("describe load balancer %s: %s: %w", lbName, c.region, err)
	}
	have := map[int32]bool{}
	if !isPlaceholder(lb.ARN) {
		ls, err := c.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lb.ARN)})
		if err != nil {
			return lb, fmt.Errorf("describe listeners of %s: %s: %w", lbName, c.region, err)
		}
		for _, l := range ls.Listeners {
			have[aws.ToInt32(l.Port)] = true
		}
	}
	forward := []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(lb.TargetGroup)}}
	if !have[int32(a.LoadBalancer.Port)] && !ch.would("create listener :%d on %s", a.LoadBalancer.Port, lbName) {
		if _, err := c.elb.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lb.ARN), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(a.LoadBalancer.Port)),
			DefaultActions: forward, Tags: tags.ELB(t),
		}); err != nil {
			return lb, fmt.Errorf("create listener on %s: %s: %w", lbName, c.region, err)
		}
		ch.add("created listener :%d on %s", a.LoadBalancer.Port, lbName)
	}
	// The certificate lives in the DR region: a failback's load balancer in
	// the primary region cannot use it.
	if cert := a.LoadBalancer.CertificateARN; cert != "" && !have[443] && strings.Contains(cert, ":"+c.region+":") &&
		!ch.would("create HTTPS listener :443 on %s with %s", lbName, cert) {
		if _, err := c.elb.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lb.ARN), Protocol: elbtypes.ProtocolEnumHttps, Port: aws.Int32(443),
			Certificates: []elbtypes.Certificate{{CertificateArn: aws.String(cert)}}, DefaultActions: forward, Tags: tags.ELB(t),
		}); err != nil {
			return lb, fmt.Errorf("create HTTPS listener with %s on %s: %s: %w", cert, lbName, c.region, err)
		}
		ch.add("created HTTPS listener :443 on %s with %s", lbName, cert)
	}
	return lb, nil
}

// findPreparedLB finds the DR load balancer `prepare` made for
// failover-records mode; failover never creates it, since the SECONDARY
// record must already point at it.
func findPreparedLB(ctx context.Context, c lbClients, n names) (LoadBalancer, error) {
	var lb LoadBalancer
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{n.preparedLB()}})
	var lbnf *elbtypes.LoadBalancerNotFoundException
	if errors.As(err, &lbnf) || (err == nil && len(lbs.LoadBalancers) == 0) {
		return lb, fmt.Errorf("the prepared DR load balancer %s is missing in %s: run `pilotlight prepare`", n.preparedLB(), c.region)
	}
	if err != nil {
		return lb, fmt.Errorf("describe load balancer %s: %s: %w", n.preparedLB(), c.region, err)
	}
	lb.ARN, lb.DNS = aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn), aws.ToString(lbs.LoadBalancers[0].DNSName)
	want := tags.With(tags.Base(n.stack), tags.OpKind, "prepare")
	if err := checkELBOwner(ctx, c, "load balancer", n.preparedLB(), lb.ARN, want); err != nil {
		return lb, err
	}
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{n.preparedTG()}})
	if err != nil || len(tgs.TargetGroups) == 0 {
		return lb, fmt.Errorf("the prepared DR target group %s is missing in %s: run `pilotlight prepare`", n.preparedTG(), c.region)
	}
	lb.TargetGroup = aws.ToString(tgs.TargetGroups[0].TargetGroupArn)
	if err := checkELBOwner(ctx, c, "target group", n.preparedTG(), lb.TargetGroup, want); err != nil {
		return lb, err
	}
	return lb, nil
}

// elbTags returns the tags of an ELBv2 resource.
func elbTags(ctx context.Context, c lbClients, arn string) (map[string]string, error) {
	out, err := c.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("describe tags of %s: %s: %w", arn, c.region, err)
	}
	for _, d := range out.TagDescriptions {
		return tags.FromELB(d.Tags), nil
	}
	return map[string]string{}, nil
}

// managedELB reports whether an ELBv2 resource carries the stack's tags
// with the given operation kind.
func managedELB(ctx context.Context, c lbClients, arn, stack, opKind string) (bool, error) {
	m, err := elbTags(ctx, c, arn)
	if err != nil {
		return false, err
	}
	return tags.Managed(m, stack) && m[tags.OpKind] == opKind, nil
}

// checkELBOwner refuses a load balancer or target group found by name that
// the operation tagged want did not make.
func checkELBOwner(ctx context.Context, c lbClients, what, name, arn string, want map[string]string) error {
	have, err := elbTags(ctx, c, arn)
	if err != nil {
		return err
	}
	if !ours(have, want) {
		return notOurs(what, name, c.region, have, want)
	}
	return nil
}

// Teardown deletes this operation's load balancer and target group, never
// the prepared DR load balancer (teardown --network deletes that).
func (loadBalancerKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	out := runbook.Outputs{}
	if err := deleteLB(ctx, r, r.n.lb(), r.n.tg(), r.opts.Kind, out); err != nil {
		return nil, err
	}
	return out, nil
}

// deleteLB deletes the named load balancer and target group if tagged for
// the stack's opKind.
func deleteLB(ctx context.Context, r *Recovery, lbName, tgName, opKind string, out runbook.Outputs) error {
	c := r.c.loadBalancer()
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{lbName}})
	var lbnf *elbtypes.LoadBalancerNotFoundException
	if err != nil && !errors.As(err, &lbnf) {
		return fmt.Errorf("describe load balancer %s: %s: %w", lbName, c.region, err)
	}
	if err == nil {
		for _, lb := range lbs.LoadBalancers {
			ok, err := managedELB(ctx, c, aws.ToString(lb.LoadBalancerArn), r.cfg.Stack, opKind)
			if err != nil {
				return err
			}
			if !ok {
				out["skipped_lb"] = lbName
				continue
			}
			if _, err := c.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
				return fmt.Errorf("delete load balancer %s: %s: %w", lbName, c.region, err)
			}
			out["deleted_lb"] = lbName
		}
	}
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{tgName}})
	var tgnf *elbtypes.TargetGroupNotFoundException
	if err != nil && !errors.As(err, &tgnf) {
		return fmt.Errorf("describe target group %s: %s: %w", tgName, c.region, err)
	}
	if err == nil {
		for _, tg := range tgs.TargetGroups {
			ok, err := managedELB(ctx, c, aws.ToString(tg.TargetGroupArn), r.cfg.Stack, opKind)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			// A target group frees up once its load balancer's listeners
			// are gone; ELB answers ResourceInUse until then.
			_, err = waitFor(ctx, r.wait, "deletion of target group "+tgName, func(ctx context.Context) (struct{}, bool, error) {
				_, err := c.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn})
				var inUse *elbtypes.ResourceInUseException
				if errors.As(err, &inUse) {
					return struct{}{}, false, nil
				}
				return struct{}{}, err == nil, err
			})
			if err != nil {
				return fmt.Errorf("delete target group %s: %s: %w", tgName, c.region, err)
			}
			out["deleted_tg"] = tgName
		}
	}
	return nil
}

func healthyTargets(ctx context.Context, c targetHealth, tg string) (int, error) {
	out, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		return 0, fmt.Errorf("describe target health of %s: %s: %w", tg, c.region, err)
	}
	healthy := 0
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			healthy++
		}
	}
	return healthy, nil
}
