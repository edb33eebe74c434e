package discover

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// app fills the load balancer and the app units: the auto scaling groups in
// scope (those behind the load balancer first) or, without any, the
// instances registered behind the load balancer.
func (r *run) app(ctx context.Context) error {
	r.appInstances = map[string]bool{}
	if r.lb != nil {
		lb, err := r.loadBalancer(ctx, *r.lb)
		if err != nil {
			return err
		}
		r.d.LoadBalancer = lb
	}
	behind := map[string]bool{}
	if r.lb != nil {
		for _, g := range r.asgsBehind(*r.lb) {
			behind[aws.ToString(g.AutoScalingGroupName)] = true
		}
	}
	var units []asgtypes.AutoScalingGroup
	for _, g := range r.asgs {
		name := aws.ToString(g.AutoScalingGroupName)
		switch {
		case r.inScope(r.asgVPC(g), tags.FromASG(g.Tags)):
			units = append(units, g)
		case behind[name] && r.d.Scope.By == "vpc":
			units = append(units, g)
		case behind[name]:
			r.undecided("auto scaling group %s is behind load balancer %s but does not carry the tags %s: not included", name, r.d.LoadBalancer.Name, tagText(r.opts.Tags))
		}
	}
	sort.SliceStable(units, func(i, j int) bool {
		a, b := aws.ToString(units[i].AutoScalingGroupName), aws.ToString(units[j].AutoScalingGroupName)
		if behind[a] != behind[b] {
			return behind[a]
		}
		return a < b
	})
	for _, g := range units {
		a, err := r.fromASG(ctx, g, behind[aws.ToString(g.AutoScalingGroupName)])
		if err != nil {
			return err
		}
		r.d.Apps = append(r.d.Apps, a)
	}
	if len(units) == 0 && r.lb != nil {
		a, ok, err := r.fromRegistered(ctx)
		if err != nil {
			return err
		}
		if ok {
			r.d.Apps = append(r.d.Apps, a)
		}
	}
	for _, a := range r.d.Apps {
		if a.UserData != "" {
			r.userData = append(r.userData, a.UserData)
		}
	}
	return nil
}

func (r *run) asgVPC(g asgtypes.AutoScalingGroup) string {
	for _, s := range strings.Split(aws.ToString(g.VPCZoneIdentifier), ",") {
		if v := r.subnetVPC[strings.TrimSpace(s)]; v != "" {
			return v
		}
	}
	return ""
}

// loadBalancer reads the listeners of the chosen load balancer.
func (r *run) loadBalancer(ctx context.Context, lb elbtypes.LoadBalancer) (*LoadBalancer, error) {
	out := &LoadBalancer{
		Name: aws.ToString(lb.LoadBalancerName), ARN: aws.ToString(lb.LoadBalancerArn),
		DNSName: aws.ToString(lb.DNSName), Scheme: string(lb.Scheme), VPC: aws.ToString(lb.VpcId),
	}
	if r.d.Scope.By == "tags" {
		out.Found = "carries the tags " + tagText(r.opts.Tags) + ", in " + out.VPC
	} else {
		out.Found = "in " + out.VPC + ", with " + r.behindText(lb) + " behind it"
	}
	pg := elb.NewDescribeListenersPaginator(r.c.ELB, &elb.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, regionErr(r.c.Region, "describe listeners of load balancer "+out.Name, err)
		}
		for _, l := range page.Listeners {
			out.Listeners = append(out.Listeners, Listener{Port: int(aws.ToInt32(l.Port)), Protocol: string(l.Protocol)})
		}
	}
	sort.Slice(out.Listeners, func(i, j int) bool { return out.Listeners[i].Port < out.Listeners[j].Port })
	for _, tg := range r.lbTargetGroups(lb) {
		out.TargetGroups = append(out.TargetGroups, TargetGroup{
			Name: aws.ToString(tg.TargetGroupName), ARN: aws.ToString(tg.TargetGroupArn), Port: int(aws.ToInt32(tg.Port)),
			Protocol: string(tg.Protocol), HealthCheckPath: aws.ToString(tg.HealthCheckPath),
		})
	}
	return out, nil
}

// launchData is what an app's instances are launched with, from a launch
// template, a launch configuration or the instances themselves.
type launchData struct {
	instanceType, ami, keyName, profile string
	sgs                                 []string
	userData                            string // base64, as the APIs return it
}

func (r *run) fromASG(ctx context.Context, g asgtypes.AutoScalingGroup, behind bool) (App, error) {
	name := aws.ToString(g.AutoScalingGroupName)
	a := App{
		AutoScalingGroup: name,
		Min:              int(aws.ToInt32(g.MinSize)), Desired: int(aws.ToInt32(g.DesiredCapacity)), Max: int(aws.ToInt32(g.MaxSize)),
	}
	switch {
	case behind:
		a.Found = "auto scaling group behind load balancer " + r.d.LoadBalancer.Name
	case r.d.Scope.By == "tags":
		a.Found = "auto scaling group carrying the tags " + tagText(r.opts.Tags)
	default:
		a.Found = "auto scaling group in " + r.d.Scope.VPC
	}
	for _, in := range g.Instances {
		id := aws.ToString(in.InstanceId)
		a.Instances = append(a.Instances, id)
		r.appInstances[id] = true
	}
	sort.Strings(a.Instances)
	var ld launchData
	spec := g.LaunchTemplate
	if spec == nil && g.MixedInstancesPolicy != nil && g.MixedInstancesPolicy.LaunchTemplate != nil {
		spec = g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification
	}
	switch {
	case spec != nil:
		var err error
		ld, a.LaunchTemplate, err = r.launchTemplate(ctx, spec)
		if err != nil {
			return a, err
		}
	case g.LaunchConfigurationName != nil:
		a.LaunchConfiguration = aws.ToString(g.LaunchConfigurationName)
		out, err := r.c.AutoScaling.DescribeLaunchConfigurations(ctx, &autoscaling.DescribeLaunchConfigurationsInput{LaunchConfigurationNames: []string{a.LaunchConfiguration}})
		if err != nil {
			return a, regionErr(r.c.Region, "describe launch configuration "+a.LaunchConfiguration, err)
		}
		if len(out.LaunchConfigurations) > 0 {
			lc := out.LaunchConfigurations[0]
			ld = launchData{instanceType: aws.ToString(lc.InstanceType), ami: aws.ToString(lc.ImageId), keyName: aws.ToString(lc.KeyName),
				profile: aws.ToString(lc.IamInstanceProfile), sgs: lc.SecurityGroups, userData: aws.ToString(lc.UserData)}
		}
	default:
		r.undecided("auto scaling group %s has neither a launch template nor a launch configuration that init can read: instance type and user-data are defaults", name)
	}
	members := r.instancesByID(a.Instances)
	if ld.instanceType == "" && len(members) > 0 {
		// A mixed-instances group may leave the type to its overrides.
		ld.instanceType = string(members[0].InstanceType)
	}
	if ld.profile == "" && len(members) > 0 && members[0].IamInstanceProfile != nil {
		ld.profile = aws.ToString(members[0].IamInstanceProfile.Arn)
	}
	r.fill(ctx, &a, ld)
	for _, tgARN := range g.TargetGroupARNs {
		if r.d.LoadBalancer == nil {
			break
		}
		for _, tg := range r.d.LoadBalancer.TargetGroups {
			if tg.ARN == tgARN && a.TargetGroup == "" {
				a.TargetGroup, a.HealthCheckPath = tg.Name, tg.HealthCheckPath
			}
		}
	}
	a.Image = r.chooseImage(name, members, asgPropagated(g.Tags))
	return a, nil
}

func asgPropagated(ts []asgtypes.TagDescription) map[string]string {
	var keep []asgtypes.TagDescription
	for _, t := range ts {
		if aws.ToBool(t.PropagateAtLaunch) {
			keep = append(keep, t)
		}
	}
	return tags.FromASG(keep)
}

func (r *run) launchTemplate(ctx context.Context, spec *asgtypes.LaunchTemplateSpecification) (launchData, string, error) {
	version := aws.ToString(spec.Version)
	if version == "" {
		version = "$Default"
	}
	in := &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{version}}
	what := aws.ToString(spec.LaunchTemplateName)
	if spec.LaunchTemplateId != nil {
		in.LaunchTemplateId = spec.LaunchTemplateId
		what = aws.ToString(spec.LaunchTemplateId)
	} else {
		in.LaunchTemplateName = spec.LaunchTemplateName
	}
	out, err := r.c.EC2.DescribeLaunchTemplateVersions(ctx, in)
	if err != nil {
		return launchData{}, what, regionErr(r.c.Region, "describe launch template "+what, err)
	}
	if len(out.LaunchTemplateVersions) == 0 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		return launchData{}, what, nil
	}
	v := out.LaunchTemplateVersions[0]
	d := v.LaunchTemplateData
	ld := launchData{instanceType: string(d.InstanceType), ami: aws.ToString(d.ImageId), keyName: aws.ToString(d.KeyName),
		sgs: append([]string{}, d.SecurityGroupIds...), userData: aws.ToString(d.UserData)}
	ld.sgs = append(ld.sgs, d.SecurityGroups...)
	for _, ni := range d.NetworkInterfaces {
		ld.sgs = append(ld.sgs, ni.Groups...)
	}
	if p := d.IamInstanceProfile; p != nil {
		ld.profile = aws.ToString(p.Arn)
		if ld.profile == "" {
			ld.profile = aws.ToString(p.Name)
		}
	}
	desc := fmt.Sprintf("%s (%s) version %d", aws.ToString(v.LaunchTemplateName), aws.ToString(v.LaunchTemplateId), aws.ToInt64(v.VersionNumber))
	return ld, desc, nil
}

// fill copies launch data into the app, decoding user-data and naming the
// security groups for the config's comments.
func (r *run) fill(ctx context.Context, a *App, ld launchData) {
	a.InstanceType, a.AMI, a.KeyName = ld.instanceType, ld.ami, ld.keyName
	if ld.profile != "" {
		a.InstanceProfile = ld.profile[strings.LastIndex(ld.profile, "/")+1:]
	}
	if ld.userData != "" {
		text, err := decodeUserData(ld.userData)
		if err != nil {
			r.undecided("the user-data of %s is not text init can turn into a template (%v): recover.app.user_data is left out", a.label(), err)
		} else {
			a.UserData = text
		}
	}
	seen := map[string]bool{}
	var ids []string
	for _, g := range ld.sgs {
		if g != "" && !seen[g] {
			seen[g] = true
			ids = append(ids, g)
		}
	}
	if len(ids) == 0 {
		return
	}
	names := map[string]string{}
	if out, err := r.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: ids}); err == nil {
		for _, g := range out.SecurityGroups {
			names[aws.ToString(g.GroupId)] = aws.ToString(g.GroupName)
		}
	} else {
		r.log.Debug("security group names not read", "err", err)
	}
	for _, id := range ids {
		a.SecurityGroups = append(a.SecurityGroups, SecurityGroup{ID: id, Name: names[id]})
	}
}

func (a App) label() string {
	if a.AutoScalingGroup != "" {
		return "auto scaling group " + a.AutoScalingGroup
	}
	return "instances " + strings.Join(a.Instances, ", ")
}

// decodeUserData turns the base64 user-data into text; cloud-init also
// accepts gzip, so that is undone too.
func decodeUserData(b64 string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", fmt.Errorf("not base64: %w", err)
	}
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return "", fmt.Errorf("gzip: %w", err)
		}
		if raw, err = io.ReadAll(io.LimitReader(zr, 16<<20)); err != nil {
			return "", fmt.Errorf("gzip: %w", err)
		}
	}
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("binary")
	}
	return string(raw), nil
}

func (r *run) instancesByID(ids []string) []ec2types.Instance {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []ec2types.Instance
	for _, in := range r.instances {
		if want[aws.ToString(in.InstanceId)] {
			out = append(out, in)
		}
	}
	return out
}

// fromRegistered makes one app of the instances registered behind the
// load balancer, for stacks without an auto scaling group.
func (r *run) fromRegistered(ctx context.Context) (App, bool, error) {
	arn := aws.ToString(r.lb.LoadBalancerArn)
	ids, ok := r.registered[arn]
	if !ok {
		var err error
		if ids, err = r.registeredInstances(ctx, *r.lb); err != nil {
			return App{}, false, regionErr(r.c.Region, "describe targets of load balancer "+r.d.LoadBalancer.Name, err)
		}
	}
	var members []ec2types.Instance
	for _, in := range r.instancesByID(ids) {
		if r.d.Scope.By == "tags" && !matches(tags.FromEC2(in.Tags), r.opts.Tags) {
			r.undecided("instance %s is behind load balancer %s but does not carry the tags %s: not included", aws.ToString(in.InstanceId), r.d.LoadBalancer.Name, tagText(r.opts.Tags))
			continue
		}
		members = append(members, in)
	}
	if len(members) == 0 {
		return App{}, false, nil
	}
	a := App{Found: "instances registered behind load balancer " + r.d.LoadBalancer.Name + " (no auto scaling group)",
		Min: 1, Desired: len(members), Max: len(members)}
	for _, in := range members {
		id := aws.ToString(in.InstanceId)
		a.Instances = append(a.Instances, id)
		r.appInstances[id] = true
	}
	first := members[0]
	ld := launchData{instanceType: string(first.InstanceType), ami: aws.ToString(first.ImageId), keyName: aws.ToString(first.KeyName)}
	if first.IamInstanceProfile != nil {
		ld.profile = aws.ToString(first.IamInstanceProfile.Arn)
	}
	for _, g := range first.SecurityGroups {
		ld.sgs = append(ld.sgs, aws.ToString(g.GroupId))
	}
	out, err := r.c.EC2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: first.InstanceId, Attribute: ec2types.InstanceAttributeNameUserData})
	if err != nil {
		r.undecided("the user-data of instance %s could not be read (%v): recover.app.user_data is left out", aws.ToString(first.InstanceId), err)
	} else if out.UserData != nil {
		ld.userData = aws.ToString(out.UserData.Value)
	}
	r.fill(ctx, &a, ld)
	if len(r.d.LoadBalancer.TargetGroups) > 0 {
		a.TargetGroup, a.HealthCheckPath = r.d.LoadBalancer.TargetGroups[0].Name, r.d.LoadBalancer.TargetGroups[0].HealthCheckPath
	}
	a.Image = r.chooseImage(a.label(), members, nil)
	r.undecided("the app runs on instances without an auto scaling group; recovery launches an auto scaling group from their image (capacity %d/%d/%d)", a.Min, a.Desired, a.Max)
	return a, true, nil
}

// preferredKeys are tried first when looking for a tag that selects the
// app's instances: names people use for a role.
var preferredKeys = []string{"Role", "role", "App", "app", "Application", "application", "Service", "service", "Component", "component", "Name"}

// chooseImage picks how protect finds a running instance of the app to
// image: a user tag that every member carries and no other instance of the
// region does, else an instance id. aws: tags are left out: they are
// reserved, and aws:autoscaling:groupName would not select an instance the
// recovered group launches under another name.
func (r *run) chooseImage(of string, members []ec2types.Instance, propagated map[string]string) ImageChoice {
	common := map[string]string{}
	if len(members) > 0 {
		for k, v := range tags.FromEC2(members[0].Tags) {
			common[k] = v
		}
		for _, in := range members[1:] {
			t := tags.FromEC2(in.Tags)
			for k, v := range common {
				if t[k] != v {
					delete(common, k)
				}
			}
		}
	} else {
		for k, v := range propagated {
			common[k] = v
		}
	}
	for k := range common {
		if strings.HasPrefix(k, "aws:") {
			delete(common, k)
		}
	}
	keys := make([]string, 0, len(common))
	for k := range common {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		for i, p := range preferredKeys {
			if p == k {
				return i
			}
		}
		return len(preferredKeys)
	}
	sort.Slice(keys, func(i, j int) bool {
		if rank(keys[i]) != rank(keys[j]) {
			return rank(keys[i]) < rank(keys[j])
		}
		return keys[i] < keys[j]
	})
	member := map[string]bool{}
	for _, in := range members {
		member[aws.ToString(in.InstanceId)] = true
	}
	for _, k := range keys {
		alone := true
		for _, in := range r.instances {
			if !member[aws.ToString(in.InstanceId)] && tags.FromEC2(in.Tags)[k] == common[k] {
				alone = false
				break
			}
		}
		if alone {
			why := fmt.Sprintf("every instance of %s, and no other instance in %s, carries %s=%s", of, r.c.Region, k, common[k])
			if len(members) == 0 {
				why = fmt.Sprintf("%s has no instance now; it tags the instances it launches %s=%s, and no other instance carries it", of, k, common[k])
			}
			return ImageChoice{Tag: map[string]string{k: common[k]}, Why: why}
		}
	}
	if len(members) == 0 {
		return ImageChoice{Why: fmt.Sprintf("%s has no running instance and tags none it launches: there is no instance to image", of)}
	}
	oldest := members[0]
	for _, in := range members[1:] {
		if aws.ToTime(in.LaunchTime).Before(aws.ToTime(oldest.LaunchTime)) {
			oldest = in
		}
	}
	return ImageChoice{ID: aws.ToString(oldest.InstanceId), Why: fmt.Sprintf(
		"no tag of %s's instances selects them alone, so an instance id is used; it goes stale when the instance is replaced: tag the instances (e.g. Role=app) and select by tag", of)}
}
