package recovery

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// Endpoints are what the user-data template is rendered with.
type Endpoints struct {
	DBHost    string
	DBPort    int
	CacheHost string
	CachePort int
	Region    string
}

// templateData is the user-data template's whole vocabulary; a name not
// in it is an error at plan time (missingkey=error), not a blank at boot.
func templateData(cfg *spec.Config, ep Endpoints) map[string]any {
	buckets := map[string]any{}
	bucket := ""
	for i, b := range cfg.Protect.Buckets {
		buckets[b.Name] = b.Replica
		if i == 0 {
			bucket = b.Replica
		}
	}
	vars := map[string]any{}
	if cfg.Recover.App != nil {
		for k, v := range cfg.Recover.App.Vars {
			vars[k] = v
		}
	}
	return map[string]any{
		"DBHost": ep.DBHost, "DBPort": ep.DBPort, "CacheHost": ep.CacheHost, "CachePort": ep.CachePort,
		"Region": ep.Region, "Stack": cfg.Stack, "Bucket": bucket, "Buckets": buckets, "Vars": vars,
	}
}

// RenderUserData renders the configured user-data template.
func RenderUserData(cfg *spec.Config, ep Endpoints) (string, error) {
	a := cfg.Recover.App
	if a == nil || a.UserData == "" {
		return "", nil
	}
	path := cfg.RelPath(a.UserData)
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("recover.app.user_data: %w", err)
	}
	tmpl, err := template.New(a.UserData).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("recover.app.user_data %s: %w", path, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, templateData(cfg, ep)); err != nil {
		return "", fmt.Errorf("recover.app.user_data %s: a variable the recovery cannot supply: %w", path, err)
	}
	return b.String(), nil
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
func ensureLaunchTemplate(ctx context.Context, c *clients, cfg *spec.Config, n names, ami, userData string, net Network, t map[string]string) (string, error) {
	a := cfg.Recover.App
	name := n.launchTemplate()
	ud := base64.StdEncoding.EncodeToString([]byte(userData))
	out, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err == nil && len(out.LaunchTemplates) > 0 {
		id := aws.ToString(out.LaunchTemplates[0].LaunchTemplateId)
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
			ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(ec2types.ResourceTypeInstance, t)[0].Tags,
		}},
	}
	if a.KeyName != "" {
		data.KeyName = aws.String(a.KeyName)
	}
	created, err := c.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name), LaunchTemplateData: data,
		TagSpecifications: ec2Tags(ec2types.ResourceTypeLaunchTemplate, t),
	})
	if err != nil {
		return "", fmt.Errorf("create launch template %s: %s: %w", name, c.region, err)
	}
	return aws.ToString(created.LaunchTemplate.LaunchTemplateId), nil
}

// LoadBalancer is an ALB with its target group.
type LoadBalancer struct {
	ARN, DNS, TargetGroup string
}

func (lb LoadBalancer) outputs() map[string]string {
	return map[string]string{"lb_arn": lb.ARN, "lb_dns": lb.DNS, "tg_arn": lb.TargetGroup}
}

// ensureLoadBalancer finds or makes an internet-facing ALB, its target
// group and its HTTP listener. ELBv2 (and moto) would make a second ALB of
// the same name, so the name is looked up first.
func ensureLoadBalancer(ctx context.Context, c *clients, cfg *spec.Config, lbName, tgName string, net Network, t map[string]string, ch *changes) (LoadBalancer, error) {
	a := cfg.Recover.App
	var lb LoadBalancer
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{tgName}})
	var tgnf *elbtypes.TargetGroupNotFoundException
	switch {
	case err == nil && len(tgs.TargetGroups) > 0:
		lb.TargetGroup = aws.ToString(tgs.TargetGroups[0].TargetGroupArn)
	case err == nil || errors.As(err, &tgnf):
		out, err := c.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(tgName), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(net.VPC),
			TargetType: elbtypes.TargetTypeEnumInstance, HealthCheckPath: aws.String(a.LoadBalancer.HealthCheckPath),
			Tags: elbTags(t),
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
	case err == nil || errors.As(err, &lbnf):
		sgs := []string{}
		if net.LBSecurityGroup != "" {
			sgs = append(sgs, net.LBSecurityGroup)
		}
		out, err := c.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
			Name: aws.String(lbName), Subnets: net.PublicSubnets, SecurityGroups: sgs,
			Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing, Type: elbtypes.LoadBalancerTypeEnumApplication,
			Tags: elbTags(t),
		})
		if err != nil {
			return lb, fmt.Errorf("create load balancer %s: %s: %w", lbName, c.region, err)
		}
		lb.ARN, lb.DNS = aws.ToString(out.LoadBalancers[0].LoadBalancerArn), aws.ToString(out.LoadBalancers[0].DNSName)
		ch.add("created load balancer %s", lbName)
	default:
		return lb, fmt.Errorf("describe load balancer %s: %s: %w", lbName, c.region, err)
	}
	ls, err := c.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lb.ARN)})
	if err != nil {
		return lb, fmt.Errorf("describe listeners of %s: %s: %w", lbName, c.region, err)
	}
	for _, l := range ls.Listeners {
		if aws.ToInt32(l.Port) == int32(a.LoadBalancer.Port) {
			return lb, nil
		}
	}
	if _, err := c.elb.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lb.ARN), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(a.LoadBalancer.Port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(lb.TargetGroup)}},
		Tags:           elbTags(t),
	}); err != nil {
		return lb, fmt.Errorf("create listener on %s: %s: %w", lbName, c.region, err)
	}
	ch.add("created listener :%d on %s", a.LoadBalancer.Port, lbName)
	return lb, nil
}

func elbTags(t map[string]string) []elbtypes.Tag {
	var out []elbtypes.Tag
	for _, k := range sortedKeys(t) {
		out = append(out, elbtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

// ensureAutoScaling makes the app's auto scaling group on the launch
// template and waits until the target group has the desired number of
// healthy targets.
func ensureAutoScaling(ctx context.Context, c *clients, cfg *spec.Config, n names, ltID string, lb LoadBalancer, net Network, t map[string]string, wait waitPolicy) (int, error) {
	a := cfg.Recover.App
	name := n.asg()
	out, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return 0, fmt.Errorf("describe auto scaling group %s: %s: %w", name, c.region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		var at []asgtypes.Tag
		for _, k := range sortedKeys(t) {
			at = append(at, asgtypes.Tag{Key: aws.String(k), Value: aws.String(t[k]), PropagateAtLaunch: aws.Bool(true)})
		}
		_, err := c.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")},
			MinSize:              aws.Int32(int32(a.Capacity.Min)), MaxSize: aws.Int32(int32(a.Capacity.Max)),
			DesiredCapacity:        aws.Int32(int32(a.Capacity.Desired)),
			VPCZoneIdentifier:      aws.String(strings.Join(net.AppSubnets, ",")),
			TargetGroupARNs:        []string{lb.TargetGroup},
			HealthCheckType:        aws.String("ELB"),
			HealthCheckGracePeriod: aws.Int32(300),
			Tags:                   at,
		})
		var exists *asgtypes.AlreadyExistsFault
		if err != nil && !errors.As(err, &exists) {
			return 0, fmt.Errorf("create auto scaling group %s: %s: %w", name, c.region, err)
		}
	}
	return waitHealthy(ctx, c, lb.TargetGroup, a.Capacity.Desired, wait)
}

// waitHealthy waits until at least want targets are healthy.
func waitHealthy(ctx context.Context, c *clients, tg string, want int, wait waitPolicy) (int, error) {
	return waitFor(ctx, wait, "healthy targets in "+tg, func(ctx context.Context) (int, bool, error) {
		h, err := healthyTargets(ctx, c, tg)
		return h, h >= want, err
	})
}

func healthyTargets(ctx context.Context, c *clients, tg string) (int, error) {
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
