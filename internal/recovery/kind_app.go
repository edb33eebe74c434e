package recovery

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// The app kinds' step ids.
const (
	StepLaunchTemplate = "launch-template"
	StepApp            = "app"
)

// The app is two kinds: its launch template, rendered with the recovered
// endpoints, and the auto scaling group that runs it behind the load
// balancer.
type (
	launchTemplateKind struct{}
	appKind            struct{}
)

// launchTemplateEC2 is the part of EC2 the launch template calls.
type launchTemplateEC2 interface {
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	CreateLaunchTemplate(context.Context, *ec2.CreateLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
	DeleteLaunchTemplate(context.Context, *ec2.DeleteLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
}

type launchTemplateClients struct {
	region string
	ec2    launchTemplateEC2
}

func (c *clients) launchTemplate() launchTemplateClients {
	return launchTemplateClients{region: c.region, ec2: c.ec2}
}

// asgAPI is the part of Auto Scaling the app calls.
type asgAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	CreateAutoScalingGroup(context.Context, *autoscaling.CreateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	DeleteAutoScalingGroup(context.Context, *autoscaling.DeleteAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
}

type appClients struct {
	region string
	asg    asgAPI
	health targetHealth
}

func (c *clients) app() appClients {
	return appClients{region: c.region, asg: c.asg, health: c.targetHealth()}
}

// launchTemplateOut is what the launch template step hands on.
type launchTemplateOut struct{ ID, Name string }

func (o launchTemplateOut) outputs() runbook.Outputs {
	return outputs("launch_template", o.ID, "launch_template_name", o.Name)
}

func launchTemplateOf(o runbook.Outputs) launchTemplateOut {
	return launchTemplateOut{ID: o["launch_template"], Name: o["launch_template_name"]}
}

// appOut is what the app step hands on.
type appOut struct {
	ASG     string
	Healthy int
}

func (o appOut) outputs() runbook.Outputs {
	return outputs("asg", o.ASG, "healthy", strconv.Itoa(o.Healthy))
}

func appOf(o runbook.Outputs) appOut { return appOut{ASG: o["asg"], Healthy: atoi(o["healthy"])} }

func (launchTemplateKind) ID() string { return StepLaunchTemplate }
func (launchTemplateKind) After() []string {
	// Not the database or the cache: the app boots beside them and reads
	// their endpoints from SSM (kind_handoff.go).
	return []string{StepPoints, StepNetwork}
}
func (launchTemplateKind) Used(r *Recovery) bool { return r.cfg.Recover.App != nil }

func (launchTemplateKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "launch template " + r.n.launchTemplate() + " with the primary's endpoints"
	}
	if !readsHandoff(r.cfg) {
		return fmt.Sprintf("wait for the recovered endpoints in SSM (the user-data template renders them in); launch template %s (%s, newest DR AMI)", r.n.launchTemplate(), r.cfg.Recover.App.InstanceType)
	}
	return fmt.Sprintf("launch template %s (%s, newest DR AMI); its user-data reads the recovered endpoints from SSM at boot", r.n.launchTemplate(), r.cfg.Recover.App.InstanceType)
}

func (launchTemplateKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	ep, err := r.handoffEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	ud, err := RenderUserData(r.cfg, ep)
	if err != nil {
		return nil, err
	}
	ami := pointsOf(rc.Outputs(StepPoints)).AMI
	id, err := ensureLaunchTemplate(ctx, r.c.launchTemplate(), r.cfg, r.n, ami, ud, r.network(rc), r.stepTags(rc, StepLaunchTemplate, "launch-template"))
	if err != nil {
		return nil, err
	}
	return launchTemplateOut{ID: id, Name: r.n.launchTemplate()}.outputs(), nil
}

func (launchTemplateKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	return "delete launch template " + r.n.launchTemplate()
}

func (appKind) ID() string { return StepApp }
func (appKind) After() []string {
	return []string{StepLaunchTemplate, StepLoadBalancer, StepEgress}
}
func (appKind) Used(r *Recovery) bool { return r.cfg.Recover.App != nil }

func (appKind) Plan(r *Recovery) string {
	if r.opts.Kind == KindFailback {
		return "auto scaling group " + r.n.asg() + "; wait for healthy targets"
	}
	c := r.cfg.Recover.App.Capacity
	return fmt.Sprintf("auto scaling group %s (min %d, desired %d, max %d) in the app subnets; wait for %d healthy targets", r.n.asg(), c.Min, c.Desired, c.Max, c.Desired)
}

func (appKind) Create(ctx context.Context, r *Recovery, rc *runbook.RunContext) (runbook.Outputs, error) {
	lb := loadBalancerOf(rc.Outputs(StepLoadBalancer))
	lt := launchTemplateOf(rc.Outputs(StepLaunchTemplate))
	healthy, err := ensureAutoScaling(ctx, r.c.app(), r.cfg, r.n, lt.ID, lb, r.network(rc), r.stepTags(rc, StepApp, "app"), r.wait)
	if err != nil {
		return nil, err
	}
	return appOut{ASG: r.n.asg(), Healthy: healthy}.outputs(), nil
}

func (appKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	return "delete auto scaling group " + r.n.asg() + " and wait until its instances are gone"
}

// Endpoints are what the user-data template is rendered with; spec owns
// the template's vocabulary, its quoting and EC2's size limit.
type Endpoints = spec.Endpoints

// RenderUserData renders the configured user-data template.
func RenderUserData(cfg *spec.Config, ep Endpoints) (string, error) {
	ud, err := cfg.RenderUserData(ep)
	if err != nil {
		return "", fmt.Errorf("recover.app.user_data: %w", err)
	}
	return ud, nil
}

// CheckUserData renders the template with placeholder endpoints so that
// `plan` catches unknown variables before anything is created.
func CheckUserData(cfg *spec.Config) error {
	_, err := RenderUserData(cfg, Endpoints{DBHost: "db.example", DBPort: 3306, CacheHost: "cache.example", CachePort: 6379, Region: cfg.DR.Region})
	return err
}

// ensureLaunchTemplate makes the app's launch template with the rendered
// user-data. moto and AWS copy nothing from a source version, so the full
// data is always sent.
func ensureLaunchTemplate(ctx context.Context, c launchTemplateClients, cfg *spec.Config, n names, ami, userData string, net Network, t map[string]string) (string, error) {
	a := cfg.Recover.App
	name := n.launchTemplate()
	ud := base64.StdEncoding.EncodeToString([]byte(userData))
	out, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err == nil && len(out.LaunchTemplates) > 0 {
		id := aws.ToString(out.LaunchTemplates[0].LaunchTemplateId)
		if have := tags.FromEC2(out.LaunchTemplates[0].Tags); !ours(have, t) {
			return "", notOurs("launch template", name+" ("+id+")", c.region, have, t)
		}
		v, err := c.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Latest"}})
		if err != nil {
			return "", fmt.Errorf("describe launch template %s: %s: %w", name, c.region, err)
		}
		if len(v.LaunchTemplateVersions) > 0 {
			d := v.LaunchTemplateVersions[0].LaunchTemplateData
			if d != nil && aws.ToString(d.ImageId) == ami && aws.ToString(d.UserData) == ud {
				return id, nil
			}
		}
		return "", fmt.Errorf("launch template %s (%s) exists with another image or user-data: a previous operation was not torn down; run `pilotlight teardown` first", name, id)
	}
	sgs := a.SecurityGroups
	if len(sgs) == 0 && net.AppSecurityGroup != "" {
		sgs = []string{net.AppSecurityGroup}
	}
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:            aws.String(ami),
		InstanceType:       ec2types.InstanceType(a.InstanceType),
		SecurityGroupIds:   sgs,
		UserData:           aws.String(ud),
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(newNames(cfg, "").appRole())},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{
			ResourceType: ec2types.ResourceTypeInstance, Tags: tags.EC2(t),
		}},
	}
	if a.KeyName != "" {
		data.KeyName = aws.String(a.KeyName)
	}
	created, err := c.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name), LaunchTemplateData: data,
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeLaunchTemplate, t),
	})
	if err != nil {
		return "", fmt.Errorf("create launch template %s: %s: %w", name, c.region, err)
	}
	return aws.ToString(created.LaunchTemplate.LaunchTemplateId), nil
}

// ensureAutoScaling makes the app's auto scaling group on the launch
// template and waits until the target group has the desired number of
// healthy targets.
func ensureAutoScaling(ctx context.Context, c appClients, cfg *spec.Config, n names, ltID string, lb LoadBalancer, net Network, t map[string]string, wait waitPolicy) (int, error) {
	a := cfg.Recover.App
	name := n.asg()
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return 0, fmt.Errorf("describe auto scaling group %s: %s: %w", name, c.region, err)
	}
	if len(out.AutoScalingGroups) > 0 {
		if have := tags.FromASG(out.AutoScalingGroups[0].Tags); !ours(have, t) {
			return 0, notOurs("auto scaling group", name, c.region, have, t)
		}
	}
	if len(out.AutoScalingGroups) == 0 {
		var at []asgtypes.Tag
		for _, k := range slices.Sorted(maps.Keys(t)) {
			at = append(at, asgtypes.Tag{Key: aws.String(k), Value: aws.String(t[k]), PropagateAtLaunch: aws.Bool(true)})
		}
		err := RetryIAMPropagation(ctx, func(ctx context.Context) error {
			_, err := c.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(name),
				LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")},
				MinSize:              aws.Int32(int32(a.Capacity.Min)), MaxSize: aws.Int32(int32(a.Capacity.Max)),
				DesiredCapacity:        aws.Int32(int32(a.Capacity.Desired)),
				VPCZoneIdentifier:      aws.String(strings.Join(net.AppSubnets, ",")),
				TargetGroupARNs:        []string{lb.TargetGroup},
				HealthCheckType:        aws.String("ELB"),
				HealthCheckGracePeriod: aws.Int32(bootGrace(cfg)),
				Tags:                   at,
			})
			return err
		})
		var exists *asgtypes.AlreadyExistsFault
		if err != nil && !errors.As(err, &exists) {
			return 0, fmt.Errorf("create auto scaling group %s: %s: %w", name, c.region, err)
		}
	}
	healthy, err := waitHealthy(ctx, c.health, lb.TargetGroup, a.Capacity.Desired, wait)
	if err != nil {
		return 0, err
	}
	return healthy, settleGrace(ctx, c, name, cfg)
}

// waitHealthy waits until at least want targets are healthy.
func waitHealthy(ctx context.Context, c targetHealth, tg string, want int, wait waitPolicy) (int, error) {
	return waitFor(ctx, wait, "healthy targets in "+tg, func(ctx context.Context) (int, bool, error) {
		h, err := healthyTargets(ctx, c, tg)
		return h, h >= want, err
	})
}

// Teardown deletes the launch template, if this operation made it.
func (launchTemplateKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.launchTemplate()
	name := r.n.launchTemplate()
	out, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil || len(out.LaunchTemplates) == 0 {
		return nil, nil // InvalidLaunchTemplateName.NotFoundException: already gone
	}
	lt := out.LaunchTemplates[0]
	if !r.owned(tags.FromEC2(lt.Tags)) {
		return runbook.Outputs{"skipped": name}, nil
	}
	if _, err := c.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId}); err != nil {
		return nil, fmt.Errorf("delete launch template %s: %s: %w", name, c.region, err)
	}
	return runbook.Outputs{"deleted": name}, nil
}

// Teardown deletes the auto scaling group and waits until its instances
// are gone.
func (appKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.app()
	name := r.n.asg()
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling group %s: %s: %w", name, c.region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, nil
	}
	if !r.owned(tags.FromASG(out.AutoScalingGroups[0].Tags)) {
		return runbook.Outputs{"skipped": name + " (not tagged for this stack's " + r.opts.Kind + ")"}, nil
	}
	if _, err := c.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true)}); err != nil {
		return nil, fmt.Errorf("delete auto scaling group %s: %s: %w", name, c.region, err)
	}
	_, err = waitFor(ctx, r.wait, "deletion of "+name, func(ctx context.Context) (struct{}, bool, error) {
		out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
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

// Verify checks the app runs at its desired capacity with healthy
// targets, that its user-data carries the recovered endpoints, and how old
// its AMI is.
func (appKind) Verify(ctx context.Context, r *Recovery, out journalOutputs, now time.Time) []report.Check {
	a := r.cfg.Recover.App
	if a == nil {
		return nil
	}
	var checks []report.Check
	add := func(name string, pass bool, format string, args ...any) {
		checks = append(checks, check(name, pass, format, args...))
	}
	asgName := appOf(out[StepApp]).ASG
	groups, err := r.c.app().asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asgName}})
	healthy, herr := healthyTargets(ctx, r.c.targetHealth(), loadBalancerOf(out[StepLoadBalancer]).TargetGroup)
	switch {
	case err != nil || len(groups.AutoScalingGroups) == 0:
		add("app at desired capacity with healthy targets", false, "auto scaling group %s not found: %v", asgName, err)
	case herr != nil:
		add("app at desired capacity with healthy targets", false, "%v", herr)
	default:
		n := len(groups.AutoScalingGroups[0].Instances)
		add("app at desired capacity with healthy targets", n >= a.Capacity.Desired && healthy >= a.Capacity.Desired,
			"%d instances, %d healthy targets, desired %d", n, healthy, a.Capacity.Desired)
	}
	checks = append(checks, userDataCheck(ctx, r, out))
	if im, ok := r.cfg.Image(a.ImageFrom); ok {
		checks = append(checks, rpoCheck("DR AMI age", pointsOf(out[StepPoints]).AMIPointTime, im.TargetRPO.D, now))
	}
	return checks
}

func userDataCheck(ctx context.Context, r *Recovery, out journalOutputs) report.Check {
	const name = "user-data carries the DR endpoints"
	lt := launchTemplateOf(out[StepLaunchTemplate]).ID
	v, err := r.c.launchTemplate().ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(lt), Versions: []string{"$Latest"}})
	if err != nil || len(v.LaunchTemplateVersions) == 0 {
		return check(name, false, "launch template %s: %v", lt, err)
	}
	ud := decodeUserData(aws.ToString(v.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
	if readsHandoff(r.cfg) {
		return handoffCheck(ctx, r, out)
	}
	var missing []string
	for _, want := range []string{databaseOf(out[StepDatabase]).Host, cacheOf(out[StepCache]).Host} {
		if want != "" && !strings.Contains(ud, want) {
			missing = append(missing, want)
		}
	}
	if r.cfg.Recover.App.UserData == "" {
		return check(name, true, "no user-data template configured")
	}
	return check(name, len(missing) == 0, "missing: %s", orDefault(strings.Join(missing, ", "), "none"))
}

func decodeUserData(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}
