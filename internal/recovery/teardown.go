package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// TeardownOptions shape a teardown.
type TeardownOptions struct {
	// Network also deletes what `prepare` made.
	Network bool
	// SkipFinalSnapshot deletes the recovered DB without a final snapshot
	// (drills always skip it: their DB is a copy of a copy).
	SkipFinalSnapshot bool
	// Force tears down even while the production record points at the DR
	// load balancer.
	Force bool
	Now   func() time.Time
}

// TeardownGraph deletes exactly what this kind of operation created, in
// reverse dependency order. Each step finds its resource by name, checks
// that it carries the stack's tags for this operation kind, deletes it and
// waits; a resource already gone is success, so the graph resumes cleanly.
func (r *Recovery) TeardownGraph(opts TeardownOptions) (*runbook.Graph, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	steps := []runbook.Step{
		{ID: "dns", Plan: r.planTeardownDNS(), Run: func(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
			return r.teardownDNS(ctx, opts)
		}},
		{ID: "app", Needs: []string{"dns"}, Plan: "delete auto scaling group " + r.n.asg() + " and wait until its instances are gone", Run: r.teardownASG},
		{ID: "launch-template", Needs: []string{"app"}, Plan: "delete launch template " + r.n.launchTemplate(), Run: r.teardownLaunchTemplate},
		{ID: "load-balancer", Needs: []string{"app"}, Plan: "delete load balancer " + r.n.lb() + " and target group " + r.n.tg() + " (not the prepared DR load balancer)", Run: r.teardownLB},
		{ID: "cache", Needs: []string{"app"}, Plan: "delete cache " + r.n.cache(), Run: r.teardownCache},
		{ID: "egress", Needs: []string{"app"}, Plan: "delete this operation's NAT gateway and its address (kept while another operation's app uses it)", Run: r.teardownEgress},
		{ID: "database", Needs: []string{"app"}, Plan: r.planTeardownDB(opts), Run: func(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
			return r.teardownDB(ctx, opts)
		}},
	}
	if opts.Network {
		steps = append(steps, runbook.Step{ID: "network", Needs: []string{"launch-template", "load-balancer", "cache", "database", "egress"},
			Plan: "delete what prepare made: failover records and health check, DR load balancer, subnet groups, security groups, route table, subnets, internet gateway, VPC, app role",
			Run: func(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
				return r.teardownNetwork(ctx)
			}})
	}
	return runbook.New(steps...)
}

func (r *Recovery) planTeardownDNS() string {
	d := r.cfg.Recover.DNS
	switch {
	case d == nil:
		return "no DNS configured"
	case r.opts.Kind == KindDrill && d.DrillRecord != "":
		return "delete drill record " + d.DrillRecord + " if it points at the drill load balancer"
	case r.opts.Kind == KindFailover && d.Mode == spec.DNSUpsert:
		return "refuse while " + d.Record + " still points at the DR load balancer (fail back first)"
	}
	return "nothing to change in DNS"
}

func (r *Recovery) planTeardownDB(opts TeardownOptions) string {
	if r.opts.Kind == KindDrill || opts.SkipFinalSnapshot {
		return "delete DB " + r.n.db() + " without a final snapshot"
	}
	return "delete DB " + r.n.db() + " after a final snapshot"
}

func (r *Recovery) teardownDNS(ctx context.Context, opts TeardownOptions) (runbook.Outputs, error) {
	d := r.cfg.Recover.DNS
	if d == nil || d.Mode == spec.DNSManual {
		return nil, nil
	}
	lbs, err := r.c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{r.n.lb()}})
	if err != nil || len(lbs.LoadBalancers) == 0 {
		return nil, nil // no load balancer of ours: no record can point at it
	}
	lbDNS := aws.ToString(lbs.LoadBalancers[0].DNSName)
	if r.opts.Kind == KindDrill {
		if d.DrillRecord == "" {
			return nil, nil
		}
		deleted, err := deleteRecord(ctx, r.c, d, d.DrillRecord, lbDNS, r.wait)
		if err != nil {
			return nil, err
		}
		if deleted {
			return runbook.Outputs{"deleted": d.DrillRecord}, nil
		}
		return nil, nil
	}
	if d.Mode == spec.DNSUpsert && !opts.Force {
		zoneID, err := findZone(ctx, r.c, d.Zone)
		if err != nil {
			return nil, err
		}
		out, err := r.c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn(d.Record))})
		if err != nil {
			return nil, fmt.Errorf("list records of %s: %w", d.Zone, err)
		}
		for _, rr := range out.ResourceRecordSets {
			if strings.EqualFold(aws.ToString(rr.Name), fqdn(d.Record)) && rr.AliasTarget != nil &&
				strings.EqualFold(strings.TrimSuffix(aws.ToString(rr.AliasTarget.DNSName), "."), lbDNS) {
				return nil, fmt.Errorf("%s still points at the DR load balancer %s: fail back first, or use --force", d.Record, lbDNS)
			}
			if strings.EqualFold(aws.ToString(rr.Name), fqdn(d.Record)) && len(rr.ResourceRecords) > 0 &&
				strings.EqualFold(strings.TrimSuffix(aws.ToString(rr.ResourceRecords[0].Value), "."), lbDNS) {
				return nil, fmt.Errorf("%s still points at the DR load balancer %s: fail back first, or use --force", d.Record, lbDNS)
			}
		}
	}
	return nil, nil
}

func (r *Recovery) owned(t map[string]string) bool {
	return tags.Managed(t, r.cfg.Stack) && t[tags.OpKind] == r.opts.Kind
}

func (r *Recovery) teardownASG(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	name := r.n.asg()
	out, err := r.c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling group %s: %s: %w", name, r.c.region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, nil
	}
	t := map[string]string{}
	for _, tg := range out.AutoScalingGroups[0].Tags {
		t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if !r.owned(t) {
		return runbook.Outputs{"skipped": name + " (not tagged for this stack's " + r.opts.Kind + ")"}, nil
	}
	if _, err := r.c.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true)}); err != nil {
		return nil, fmt.Errorf("delete auto scaling group %s: %s: %w", name, r.c.region, err)
	}
	_, err = waitFor(ctx, r.wait, "deletion of "+name, func(ctx context.Context) (struct{}, bool, error) {
		out, err := r.c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
		if err != nil {
			return struct{}{}, false, err
		}
		return struct{}{}, len(out.AutoScalingGroups) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"deleted": name}, nil
}

func (r *Recovery) teardownLaunchTemplate(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	name := r.n.launchTemplate()
	out, err := r.c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil || len(out.LaunchTemplates) == 0 {
		return nil, nil // InvalidLaunchTemplateName.NotFoundException: already gone
	}
	lt := out.LaunchTemplates[0]
	t := map[string]string{}
	for _, tg := range lt.Tags {
		t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if !r.owned(t) {
		return runbook.Outputs{"skipped": name}, nil
	}
	if _, err := r.c.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId}); err != nil {
		return nil, fmt.Errorf("delete launch template %s: %s: %w", name, r.c.region, err)
	}
	return runbook.Outputs{"deleted": name}, nil
}

func (r *Recovery) teardownLB(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	out := runbook.Outputs{}
	if err := r.deleteLB(ctx, r.n.lb(), r.n.tg(), r.opts.Kind, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Recovery) deleteLB(ctx context.Context, lbName, tgName, opKind string, out runbook.Outputs) error {
	lbs, err := r.c.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{lbName}})
	var lbnf *elbtypes.LoadBalancerNotFoundException
	if err != nil && !errors.As(err, &lbnf) {
		return fmt.Errorf("describe load balancer %s: %s: %w", lbName, r.c.region, err)
	}
	if err == nil {
		for _, lb := range lbs.LoadBalancers {
			ok, err := managedELB(ctx, r.c, aws.ToString(lb.LoadBalancerArn), r.cfg.Stack, opKind)
			if err != nil {
				return err
			}
			if !ok {
				out["skipped_lb"] = lbName
				continue
			}
			if _, err := r.c.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
				return fmt.Errorf("delete load balancer %s: %s: %w", lbName, r.c.region, err)
			}
			out["deleted_lb"] = lbName
		}
	}
	tgs, err := r.c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{tgName}})
	var tgnf *elbtypes.TargetGroupNotFoundException
	if err != nil && !errors.As(err, &tgnf) {
		return fmt.Errorf("describe target group %s: %s: %w", tgName, r.c.region, err)
	}
	if err == nil {
		for _, tg := range tgs.TargetGroups {
			ok, err := managedELB(ctx, r.c, aws.ToString(tg.TargetGroupArn), r.cfg.Stack, opKind)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			// A target group frees up once its load balancer's listeners
			// are gone; ELB answers ResourceInUse until then.
			_, err = waitFor(ctx, r.wait, "deletion of target group "+tgName, func(ctx context.Context) (struct{}, bool, error) {
				_, err := r.c.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn})
				var inUse *elbtypes.ResourceInUseException
				if errors.As(err, &inUse) {
					return struct{}{}, false, nil
				}
				return struct{}{}, err == nil, err
			})
			if err != nil {
				return fmt.Errorf("delete target group %s: %s: %w", tgName, r.c.region, err)
			}
			out["deleted_tg"] = tgName
		}
	}
	return nil
}

func (r *Recovery) teardownCache(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	id := r.n.cache()
	rg, err := describeCache(ctx, r.c, id)
	if err != nil || rg == nil {
		return nil, err
	}
	if aws.ToString(rg.Status) == "deleting" {
		return runbook.Outputs{"deleted": id}, nil
	}
	tl, err := r.c.cache.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: rg.ARN})
	if err != nil {
		return nil, fmt.Errorf("list tags of cache %s: %s: %w", id, r.c.region, err)
	}
	t := map[string]string{}
	for _, tg := range tl.TagList {
		t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if !r.owned(t) {
		return runbook.Outputs{"skipped": id}, nil
	}
	if _, err := r.c.cache.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
		var nf *ectypes.ReplicationGroupNotFoundFault
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("delete cache %s: %s: %w", id, r.c.region, err)
		}
	}
	// Deletion of a replication group takes minutes and nothing here waits
	// on it unless the network goes too; a group in `deleting` is gone for
	// every purpose of the stack.
	return runbook.Outputs{"deleted": id}, nil
}

func (r *Recovery) teardownDB(ctx context.Context, opts TeardownOptions) (runbook.Outputs, error) {
	id := r.n.db()
	out := runbook.Outputs{}
	inst, err := describeInstance(ctx, r.c, id)
	if err != nil {
		return nil, err
	}
	cl, err := describeCluster(ctx, r.c, id)
	if err != nil {
		return nil, err
	}
	skipFinal := opts.SkipFinalSnapshot || r.opts.Kind == KindDrill
	final := fit(id+"-final-"+opts.Now().UTC().Format("20060102150405"), 255)
	if cl != nil {
		writer := fit(id+"-1", 63)
		if w, err := describeInstance(ctx, r.c, writer); err == nil && w != nil && r.ownedRDS(w.TagList) {
			if _, err := r.c.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer), SkipFinalSnapshot: aws.Bool(true)}); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB instance %s: %s: %w", writer, r.c.region, err)
			}
		}
		if r.ownedRDS(cl.TagList) {
			in := &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(skipFinal)}
			if !skipFinal {
				in.FinalDBSnapshotIdentifier = aws.String(final)
				out["final_snapshot"] = final
			}
			if _, err := r.c.rds.DeleteDBCluster(ctx, in); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB cluster %s: %s: %w", id, r.c.region, err)
			}
			out["deleted"] = id
		}
	}
	if inst != nil && inst.DBClusterIdentifier == nil {
		if !r.ownedRDS(inst.TagList) {
			return runbook.Outputs{"skipped": id}, nil
		}
		if aws.ToString(inst.DBInstanceStatus) != "deleting" {
			in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(skipFinal)}
			if !skipFinal {
				in.FinalDBSnapshotIdentifier = aws.String(final)
				out["final_snapshot"] = final
			}
			if _, err := r.c.rds.DeleteDBInstance(ctx, in); err != nil && !isRDSNotFound(err) {
				return nil, fmt.Errorf("delete DB instance %s: %s: %w", id, r.c.region, err)
			}
		}
		_, err := waitFor(ctx, r.wait, "deletion of DB "+id, func(ctx context.Context) (struct{}, bool, error) {
			in, err := describeInstance(ctx, r.c, id)
			return struct{}{}, in == nil, err
		})
		if err != nil {
			return nil, err
		}
		out["deleted"] = id
	}
	return out, nil
}

func (r *Recovery) ownedRDS(tl []rdstypes.Tag) bool {
	t := map[string]string{}
	for _, tg := range tl {
		t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return r.owned(t)
}

func isRDSNotFound(err error) bool {
	var a *rdstypes.DBInstanceNotFoundFault
	var b *rdstypes.DBClusterNotFoundFault
	return errors.As(err, &a) || errors.As(err, &b)
}
