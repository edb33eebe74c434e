package recovery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
)

// The write freeze: between it and the DNS switch nobody writes anywhere,
// so the final catch-up copies everything DR ever took and nothing is
// written to a database that is about to be left behind.

// freezeASG is the part of Auto Scaling the freeze calls.
type freezeASG interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
}

// freezeOut is what the freeze hands on: when writes stopped, and which
// group it stopped.
type freezeOut struct {
	At      time.Time
	ASG     string
	Stopped int
}

func (o freezeOut) outputs() runbook.Outputs {
	return outputs("frozen_at", o.At.UTC().Format(time.RFC3339Nano), "asg", o.ASG, "stopped", strconv.Itoa(o.Stopped))
}

func freezeOf(o runbook.Outputs) freezeOut {
	t, _ := time.Parse(time.RFC3339Nano, o["frozen_at"])
	return freezeOut{At: t, ASG: o["asg"], Stopped: atoi(o["stopped"])}
}

// runFreeze stops the DR app taking writes: its auto scaling group goes to
// zero (max too, so that no scaling policy brings an instance back) and
// the step ends once no instance of it can receive a request. The DR load
// balancer then answers 503 until DNS moves: an outage of the freeze's
// length, which the report states.
func (f *Failback) runFreeze(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	c := freezeClients{region: f.cfg.DR.Region, asg: f.dr.c.asg, elb: f.dr.c.elb, ec2: f.dr.c.ec2}
	name := f.dr.n.asg()
	at := time.Now().UTC()
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling group %s: %s: %w", name, c.region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		// No DR app (never built, or a resumed run after teardown): nothing
		// can write, and the freeze starts now.
		return freezeOut{At: at}.outputs(), nil
	}
	g := out.AutoScalingGroups[0]
	stopped := len(g.Instances)
	if aws.ToInt32(g.MaxSize) != 0 || aws.ToInt32(g.DesiredCapacity) != 0 || aws.ToInt32(g.MinSize) != 0 {
		if _, err := c.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(0), DesiredCapacity: aws.Int32(0),
		}); err != nil {
			return nil, fmt.Errorf("freeze: scale auto scaling group %s to zero: %s: %w", name, c.region, err)
		}
	}
	f.home.opts.Log.Info("failback: writes frozen", "stack", f.cfg.Stack, "asg", name, "region", c.region, "instances", stopped)
	if _, err := waitFor(ctx, f.dr.wait, "DR app instances of "+name+" out of service", func(ctx context.Context) (struct{}, bool, error) {
		serving, err := c.serving(ctx, name, g.TargetGroupARNs)
		return struct{}{}, len(serving) == 0, err
	}); err != nil {
		return nil, err
	}
	return freezeOut{At: at, ASG: name, Stopped: stopped}.outputs(), nil
}

// freezeEC2 is the part of EC2 the freeze reads.
type freezeEC2 interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

type freezeClients struct {
	region string
	asg    freezeASG
	elb    targetHealthAPI
	ec2    freezeEC2
}

// serving lists the instances of group name that may still take a
// request: in service in the group, or a target of its target groups that
// is not draining, while its instance runs. An unhealthy target counts:
// an ALB whose targets are all unhealthy sends requests to all of them.
func (c freezeClients) serving(ctx context.Context, name string, targetGroups []string) ([]string, error) {
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling group %s: %s: %w", name, c.region, err)
	}
	var ids, targets []string
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			if !strings.HasPrefix(string(i.LifecycleState), "Terminat") && i.LifecycleState != asgtypes.LifecycleStateStandby {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
	}
	for _, tg := range targetGroups {
		th, err := c.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			return nil, fmt.Errorf("describe target health of %s: %s: %w", tg, c.region, err)
		}
		for _, d := range th.TargetHealthDescriptions {
			if d.TargetHealth == nil || d.Target == nil {
				continue
			}
			switch d.TargetHealth.State {
			case elbtypes.TargetHealthStateEnumDraining, elbtypes.TargetHealthStateEnumUnused:
			default:
				targets = append(targets, aws.ToString(d.Target.Id))
			}
		}
	}
	running, err := c.running(ctx, targets)
	if err != nil {
		return nil, err
	}
	return append(ids, running...), nil
}

// running keeps the instances of ids that are pending or running: a
// stopped or terminated instance answers nothing, whatever its target
// group still says.
func (c freezeClients) running(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []string
	p := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{InstanceIds: ids})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances %v: %s: %w", ids, c.region, err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				if i.State != nil && (i.State.Name == ec2types.InstanceStateNamePending || i.State.Name == ec2types.InstanceStateNameRunning) {
					out = append(out, aws.ToString(i.InstanceId))
				}
			}
		}
	}
	return out, nil
}
