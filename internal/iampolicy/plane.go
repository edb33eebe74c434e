package iampolicy

import (
	"sort"
	"strings"

	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// planeActions are one service's recovery-plane actions. Reads take no
// resource-level permission. Creates are allowed only when the request
// tags the new resource with the stack (aws:RequestTag) and acts on
// existing resources of the stack (aws:ResourceTag); modifies and deletes
// only on resources that carry the stack's tag.
type planeActions struct {
	read, create, modify, delete []string
	// dropFailback deletes only what a failback tagged as its own.
	dropFailback []string
}

// prepareActions is what `prepare` calls in the DR region (besides IAM,
// granted by role name): the network, subnet groups, the DR load balancer
// and the Route 53 failover records with their health check.
var prepareActions = map[string]planeActions{
	"ec2": {
		read: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeInternetGateways",
			"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints"},
		// CreateTags: every create carries TagSpecifications, which EC2
		// authorises as CreateTags (granted apart, for creates only).
		create: []string{"ec2:CreateVpcEndpoint", "ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateInternetGateway",
			"ec2:CreateRouteTable", "ec2:CreateSecurityGroup", "ec2:CreateTags"},
		modify: []string{"ec2:ModifyVpcAttribute", "ec2:ModifySubnetAttribute", "ec2:AttachInternetGateway", "ec2:CreateRoute",
			"ec2:AssociateRouteTable", "ec2:AuthorizeSecurityGroupIngress"},
	},
	"rds": {
		read:   []string{"rds:DescribeDBSubnetGroups"},
		create: []string{"rds:CreateDBSubnetGroup", "rds:AddTagsToResource"},
	},
	"elasticache": {
		read:   []string{"elasticache:DescribeCacheSubnetGroups"},
		create: []string{"elasticache:CreateCacheSubnetGroup", "elasticache:AddTagsToResource"},
	},
	"elasticloadbalancing": {
		read: []string{"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTags"},
		create: []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
			"elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags"},
		modify: []string{"elasticloadbalancing:ModifyTargetGroup"},
	},
	"route53": {
		read:   []string{"route53:ListHostedZonesByName", "route53:ListHealthChecks"},
		create: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:GetChange", "route53:CreateHealthCheck", "route53:ChangeTagsForResource"},
	},
}

// failoverActions is what failover, drill, failback and teardown call in
// the DR region (and Route 53): restore, create the cache, launch the app
// behind a load balancer, move DNS, and tear all of it down again.
var failoverActions = map[string]planeActions{
	"ec2": {
		read: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeInternetGateways",
			"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeLaunchTemplates",
			"ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstances", "ec2:DescribeImages",
			"ec2:DescribeNatGateways", "ec2:DescribeAddresses", "ec2:DescribeVpcEndpoints"},
		// RunInstances: the auto scaling group launches with the caller's
		// rights to the launch template. The NAT gateway, its address and
		// the default route exist only while a recovered stack runs.
		create: []string{"ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:RunInstances", "ec2:CreateNatGateway", "ec2:AllocateAddress"},
		modify: []string{"ec2:CreateRoute", "ec2:ReplaceRoute"},
		delete: []string{"ec2:DeleteNatGateway", "ec2:ReleaseAddress", "ec2:DeleteRoute", "ec2:DeleteVpcEndpoints", "ec2:DeleteLaunchTemplate", "ec2:DeleteVpc", "ec2:DeleteSubnet", "ec2:DeleteSecurityGroup",
			"ec2:RevokeSecurityGroupIngress", "ec2:DeleteRouteTable", "ec2:DisassociateRouteTable",
			"ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"},
	},
	"rds": {
		read: []string{"rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSubnetGroups", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"},
		// CreateDBSnapshot and CopyDBSnapshot (their cluster forms for
		// Aurora): failback snapshots the DR database and copies it back
		// to the primary region.
		// CreateDBInstanceReadReplica and PromoteReadReplica: failback
		// catches up by a cross-region replica of the DR database.
		create: []string{"rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance",
			"rds:AddTagsToResource", "rds:CreateDBSnapshot", "rds:CopyDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:CopyDBClusterSnapshot",
			"rds:CreateDBInstanceReadReplica"},
		modify: []string{"rds:PromoteReadReplica"},
		delete: []string{"rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:DeleteDBSubnetGroup"},
		// Failback drops its intermediate snapshots once the primary's
		// database is restored.
		dropFailback: []string{"rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"},
	},
	"elasticache": {
		read:   []string{"elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheSubnetGroups", "elasticache:ListTagsForResource"},
		create: []string{"elasticache:CreateReplicationGroup", "elasticache:AddTagsToResource"},
		delete: []string{"elasticache:DeleteReplicationGroup", "elasticache:DeleteCacheSubnetGroup"},
	},
	"elasticloadbalancing": {
		read: []string{"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags"},
		create: []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
			"elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags"},
		modify: []string{"elasticloadbalancing:ModifyTargetGroup"},
		delete: []string{"elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup"},
	},
	"autoscaling": {
		read:   []string{"autoscaling:DescribeAutoScalingGroups"},
		create: []string{"autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags"},
		// UpdateAutoScalingGroup: the boot grace returns to the steady one,
		// and failback's write freeze scales the DR app to zero.
		modify: []string{"autoscaling:UpdateAutoScalingGroup"},
		delete: []string{"autoscaling:DeleteAutoScalingGroup"},
	},
	"route53": {
		read:   []string{"route53:ListHostedZonesByName", "route53:ListHealthChecks"},
		create: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:GetChange", "route53:DeleteHealthCheck"},
	},
	// Failback reads the replica's ReplicaLag before promoting it.
	"cloudwatch": {
		read: []string{"cloudwatch:GetMetricStatistics"},
	},
}

// tagActions are the actions that put tags on an existing resource: they
// are denied on any resource another stack has tagged, so that no holder
// can re-label another stack's resource as this stack's and then delete it.
var tagActions = []string{"ec2:CreateTags", "rds:AddTagsToResource", "elasticache:AddTagsToResource",
	"elasticloadbalancing:AddTags", "autoscaling:CreateOrUpdateTags", "iam:TagRole", "iam:TagInstanceProfile"}

func (b *builder) requestTag() map[string]map[string]any {
	return map[string]map[string]any{"StringEquals": {"aws:RequestTag/" + tags.Stack: b.cfg.Stack}}
}

// denyRetag is the Deny statement that keeps tagActions off other stacks'
// resources.
func (b *builder) denyRetag() {
	var acts []string
	for _, a := range tagActions {
		if b.allowsAction(a) {
			acts = append(acts, a)
		}
	}
	if len(acts) == 0 {
		return
	}
	b.stmts = append(b.stmts, Statement{Sid: "DenyRetagOtherStacks", Effect: "Deny", Action: acts, Resource: []string{"*"},
		Condition: map[string]map[string]any{
			"StringNotEquals": {"aws:ResourceTag/" + tags.Stack: b.cfg.Stack},
			"Null":            {"aws:ResourceTag/" + tags.Stack: false},
		}})
}

func (b *builder) allowsAction(a string) bool {
	for _, s := range b.stmts {
		for _, x := range s.Action {
			if s.Effect == "Allow" && x == a {
				return true
			}
		}
	}
	return false
}

// recoveryPlane grants the DR-region actions of a set, per service.
func (b *builder) recoveryPlane(sidPrefix string, set map[string]planeActions) {
	r := b.cfg.Recover
	if r.Database == nil && r.Cache == nil && r.App == nil && r.DNS == nil && r.Network.VPC.IsZero() && r.Network.CIDR == "" {
		return
	}
	services := make([]string, 0, len(set))
	for s := range set {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, svc := range services {
		a := set[svc]
		name := sidPrefix + sidName(svc)
		if svc == "route53" {
			b.route53(name, a)
			continue
		}
		// Failback runs the same steps in the primary region (restore,
		// cache, app, network): the grants hold in both, on the stack's
		// own resources alone.
		b.add(name+"Read", a.read, []string{"*"}, b.inRegions(b.D, b.P))
		for _, r := range []string{b.D, b.P} {
			b.pr = r
			creates := a.create
			if svc == "ec2" {
				// CreateTags only as part of a create, never on its own.
				var cs, names []string
				for _, c := range a.create {
					if c != "ec2:CreateTags" {
						cs = append(cs, c)
						names = append(names, strings.TrimPrefix(c, "ec2:"))
					}
				}
				cond := b.requestTag()
				cond["StringEquals"]["ec2:CreateAction"] = names
				b.add(name+"TagOnCreate", []string{"ec2:CreateTags"}, b.newARNs(svc, cs...), cond)
				creates = cs
			}
			// One statement per create, on what that create makes: the
			// request's tags say nothing of the existing resources it names.
			for _, c := range creates {
				b.add(name+strings.SplitN(c, ":", 2)[1], []string{c}, b.newARNs(svc, c), b.requestTag())
			}
			b.add(name+"CreateIn", creates, b.existingARNs(svc), stackTag(b.cfg.Stack))
			b.add(name+"CreateWith", b.attachedActions(svc, creates), b.attachedARNs(svc), nil)
			b.add(name+"Modify", a.modify, b.existingARNs(svc), stackTag(b.cfg.Stack))
			b.add(name+"Configured", append(append([]string{}, creates...), a.modify...), b.configuredARNs(svc), nil)
			b.add(name+"Delete", a.delete, b.deletable(svc), stackTag(b.cfg.Stack))
			if len(a.dropFailback) > 0 {
				// Only snapshots a failback tagged, never a recovery point
				// protect made.
				pre := b.rdsPrefix()
				b.add(name+"DropFailbackSnapshots", a.dropFailback,
					[]string{b.arn("rds", b.pr, "snapshot:"+pre+"*"), b.arn("rds", b.pr, "cluster-snapshot:"+pre+"*")},
					map[string]map[string]any{"StringEquals": {"aws:ResourceTag/" + tags.Stack: b.cfg.Stack, "aws:ResourceTag/" + tags.OpKind: "failback"}})
			}
		}
	}
}

// route53 grants record changes on the configured zone only, and only to
// the configured record names; health checks cannot be scoped by tag.
func (b *builder) route53(name string, a planeActions) {
	pre := "arn:" + b.p.ID + ":route53:::"
	b.add(name+"Read", a.read, []string{"*"}, nil)
	zone := pre + "hostedzone/*"
	if b.zoneID != "" {
		zone = pre + "hostedzone/" + strings.TrimPrefix(b.zoneID, "/hostedzone/")
	}
	var records, other, checks []string
	for _, x := range a.create {
		switch x {
		case "route53:ChangeResourceRecordSets":
			records = append(records, x)
		case "route53:CreateHealthCheck", "route53:DeleteHealthCheck", "route53:ChangeTagsForResource":
			checks = append(checks, x)
		default:
			other = append(other, x)
		}
	}
	var names []string
	if d := b.cfg.Recover.DNS; d != nil {
		for _, n := range []string{d.Record, d.DrillRecord} {
			if n != "" {
				names = append(names, strings.ToLower(strings.TrimSuffix(n, ".")))
			}
		}
	}
	key := "route53:ChangeResourceRecordSetsNormalizedRecordNames"
	b.add(name+"Records", records, []string{zone}, map[string]map[string]any{
		"ForAllValues:StringEquals": {key: uniq(names)},
		"Null":                      {key: false},
	})
	b.add(name+"Zone", other, []string{zone, pre + "change/*"}, nil)
	b.add(name+"HealthChecks", checks, []string{pre + "healthcheck/*"}, nil)
}

func (b *builder) ec2ARN(resource string) string {
	return "arn:" + b.p.ID + ":ec2:" + b.pr + ":" + b.acct + ":" + resource
}

// newARNs are the resources the given creates make: named <stack>-*
// where the ARN carries a name, tagged with the stack by the request.
func (b *builder) newARNs(svc string, creates ...string) []string {
	pre := b.rdsPrefix()
	var out []string
	for _, c := range creates {
		if typ, ok := ec2Creates[c]; ok {
			out = append(out, b.ec2ARN(typ+"/*"))
			continue
		}
		switch c {
		case "rds:RestoreDBInstanceFromDBSnapshot", "rds:CreateDBInstance", "rds:CreateDBInstanceReadReplica":
			out = append(out, b.arn("rds", b.pr, "db:"+pre+"*"))
			if d := b.cfg.Recover.Database; d != nil && d.Identifier != "" {
				out = append(out, b.arn("rds", b.pr, "db:"+strings.ToLower(d.Identifier)+"*"))
			}
		case "rds:RestoreDBClusterFromSnapshot":
			out = append(out, b.arn("rds", b.pr, "cluster:"+pre+"*"))
			if d := b.cfg.Recover.Database; d != nil && d.Identifier != "" {
				out = append(out, b.arn("rds", b.pr, "cluster:"+strings.ToLower(d.Identifier)+"*"))
			}
		case "rds:CreateDBSubnetGroup":
			out = append(out, b.arn("rds", b.pr, "subgrp:"+pre+"*"))
		case "rds:CreateDBSnapshot", "rds:CopyDBSnapshot":
			out = append(out, b.arn("rds", b.pr, "snapshot:"+pre+"*"))
		case "rds:CreateDBClusterSnapshot", "rds:CopyDBClusterSnapshot":
			out = append(out, b.arn("rds", b.pr, "cluster-snapshot:"+pre+"*"))
		case "rds:AddTagsToResource":
			out = append(out, b.newARNs(svc, "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot",
				"rds:CreateDBSubnetGroup", "rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot")...)
		case "elasticache:CreateReplicationGroup":
			out = append(out, b.arn("elasticache", b.pr, "replicationgroup:"+pre+"*"), b.arn("elasticache", b.pr, "cluster:"+pre+"*"))
		case "elasticache:CreateCacheSubnetGroup":
			out = append(out, b.arn("elasticache", b.pr, "subnetgroup:"+pre+"*"))
		case "elasticache:AddTagsToResource":
			out = append(out, b.newARNs(svc, "elasticache:CreateReplicationGroup", "elasticache:CreateCacheSubnetGroup")...)
		case "elasticloadbalancing:CreateLoadBalancer":
			out = append(out, b.arn(svc, b.pr, "loadbalancer/app/"+pre+"*"))
		case "elasticloadbalancing:CreateTargetGroup":
			out = append(out, b.arn(svc, b.pr, "targetgroup/"+pre+"*"))
		case "elasticloadbalancing:AddTags":
			out = append(out, b.arn(svc, b.pr, "loadbalancer/app/"+pre+"*"), b.arn(svc, b.pr, "targetgroup/"+pre+"*"),
				b.arn(svc, b.pr, "listener/app/"+pre+"*"))
		case "autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags":
			out = append(out, b.arn(svc, b.pr, "autoScalingGroup:*:autoScalingGroupName/"+pre+"*"))
		}
	}
	return uniq(out)
}

// existingARNs are the resources in the DR region a create or modify may
// act on; the statements that use them require the stack's tag.
func (b *builder) existingARNs(svc string) []string {
	if svc == "ec2" {
		return []string{b.ec2ARN("*"), "arn:" + b.p.ID + ":ec2:" + b.pr + "::image/*"}
	}
	return []string{b.arn(svc, b.pr, "*")}
}

// deletable narrows deletes by name where the service's ARNs carry the
// name pilotlight gave; the stack tag is required as well, because
// another stack's names may share the prefix.
func (b *builder) deletable(svc string) []string {
	pre := b.rdsPrefix()
	switch svc {
	case "rds":
		out := []string{b.arn("rds", b.pr, "db:"+pre+"*"), b.arn("rds", b.pr, "cluster:"+pre+"*"), b.arn("rds", b.pr, "subgrp:"+pre+"*")}
		if d := b.cfg.Recover.Database; d != nil && d.Identifier != "" {
			out = append(out, b.arn("rds", b.pr, "db:"+strings.ToLower(d.Identifier)+"*"), b.arn("rds", b.pr, "cluster:"+strings.ToLower(d.Identifier)+"*"))
		}
		return out
	case "elasticache":
		return b.newARNs(svc, "elasticache:AddTagsToResource")
	case "elasticloadbalancing":
		return b.newARNs(svc, "elasticloadbalancing:AddTags")
	case "autoscaling":
		return b.newARNs(svc, "autoscaling:CreateAutoScalingGroup")
	}
	return b.existingARNs(svc)
}

// attachedActions are the creates that also name resources no stack tags:
// the instance's volumes, interfaces and key pair, default parameter and
// option groups.
func (b *builder) attachedActions(svc string, creates []string) []string {
	want := map[string]bool{"ec2:RunInstances": true, "rds:RestoreDBInstanceFromDBSnapshot": true, "rds:RestoreDBClusterFromSnapshot": true,
		"rds:CreateDBInstance": true, "elasticache:CreateReplicationGroup": true}
	var out []string
	for _, c := range creates {
		if want[c] {
			out = append(out, c)
		}
	}
	return out
}

func (b *builder) attachedARNs(svc string) []string {
	switch svc {
	case "ec2":
		return []string{b.ec2ARN("volume/*"), b.ec2ARN("network-interface/*"), b.ec2ARN("key-pair/*")}
	case "rds":
		return []string{b.arn("rds", b.pr, "og:*"), b.arn("rds", b.pr, "pg:*"), b.arn("rds", b.pr, "cluster-pg:*")}
	case "elasticache":
		return []string{b.arn("elasticache", b.pr, "parametergroup:*")}
	}
	return nil
}

// configuredARNs are existing resources the config names by id (an
// existing DR network, its groups): pilotlight did not make them, so they
// carry no stack tag, and they are granted by exact id.
func (b *builder) configuredARNs(svc string) []string {
	n := b.cfg.Recover.Network
	var out []string
	if b.pr != b.D {
		return nil // the configured network is the DR region's
	}
	switch svc {
	case "ec2":
		if n.VPC.ID != "" {
			out = append(out, b.ec2ARN("vpc/"+n.VPC.ID))
		}
		for _, ids := range [][]string{n.PublicSubnets, n.AppSubnets, n.DBSubnets} {
			for _, id := range ids {
				out = append(out, b.ec2ARN("subnet/"+id))
			}
		}
		for _, id := range []string{n.SecurityGroups.LoadBalancer, n.SecurityGroups.App, n.SecurityGroups.DB} {
			if id != "" {
				out = append(out, b.ec2ARN("security-group/"+id))
			}
		}
	case "rds":
		if d := b.cfg.Recover.Database; d != nil && d.SubnetGroup != "" {
			out = append(out, b.arn("rds", b.pr, "subgrp:"+strings.ToLower(d.SubnetGroup)))
		}
	case "elasticache":
		if c := b.cfg.Recover.Cache; c != nil && c.SubnetGroup != "" {
			out = append(out, b.arn("elasticache", b.pr, "subnetgroup:"+strings.ToLower(c.SubnetGroup)))
		}
	}
	return out
}

// pinAlarm is the failover pin's alarm in the DR region: the PRIMARY
// record's calculated health check watches it (recovery.PinAlarmName; the
// name is spelled here too because iampolicy must not link the recovery
// plane's SDK clients).
func (b *builder) pinAlarm() string {
	return b.arn("cloudwatch", b.D, "alarm:pilotlight-"+b.cfg.Stack+"-failed-over")
}

// pinAndKeys grants what prepare adds for the failover pin and for the
// DR image key: the alarm (created with the stack's tag), and the key
// policy of each configured DR key, so that the Auto Scaling
// service-linked role may launch from an AMI copied with it.
func (b *builder) pinAndKeys() {
	if d := b.cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords {
		b.add("PreparePinAlarm", []string{"cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"}, []string{b.pinAlarm()}, nil)
		b.add("PreparePinRead", []string{"cloudwatch:DescribeAlarms"}, []string{"*"}, b.inRegions(b.D))
	}
	// Only the key the app's image is copied with (recovery's appKey):
	// the other images' keys are no business of the app's launch.
	a := b.cfg.Recover.App
	if a == nil {
		return
	}
	im, ok := b.cfg.Image(a.ImageFrom)
	if !ok || im.DRKMSKey == "" {
		return
	}
	if keys, cond := b.keyPolicyScope(im.DRKMSKey); len(keys) > 0 {
		b.add("PrepareDRKeyPolicy", []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"}, keys, cond)
	}
}

// pinMoves grants failover setting the pin, failback clearing it and
// teardown --network deleting it; PutMetricData has no resource-level
// permission, so it is held to the DR region.
func (b *builder) pinMoves() {
	if d := b.cfg.Recover.DNS; d == nil || d.Mode != spec.DNSFailoverRecords {
		return
	}
	b.add("FailoverPin", []string{"cloudwatch:SetAlarmState", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"}, []string{b.pinAlarm()}, nil)
	b.add("FailoverPinMetric", []string{"cloudwatch:PutMetricData"}, []string{"*"}, b.inRegions(b.D))
}

// handoff grants the SSM hand-off: failover writes the database and cache
// endpoints under /<stack>/recovery/ in the region it recovers in (the
// primary for failback) for the app to read, and teardown deletes them.
func (b *builder) handoff() {
	if b.cfg.Recover.App == nil {
		return
	}
	var res []string
	for _, r := range []string{b.D, b.P} {
		res = append(res, b.arn("ssm", r, "parameter/"+b.cfg.Stack+"/recovery/*"))
	}
	b.add("FailoverHandoff", []string{"ssm:PutParameter", "ssm:GetParameter", "ssm:AddTagsToResource",
		"ssm:ListTagsForResource", "ssm:DeleteParameter"}, res, nil)
}

// ec2Creates names the resource type each EC2 create makes, as its ARN
// spells it.
var ec2Creates = map[string]string{
	"ec2:CreateVpc": "vpc", "ec2:CreateSubnet": "subnet", "ec2:CreateInternetGateway": "internet-gateway",
	"ec2:CreateRouteTable": "route-table", "ec2:CreateSecurityGroup": "security-group", "ec2:CreateVpcEndpoint": "vpc-endpoint",
	"ec2:CreateLaunchTemplate": "launch-template", "ec2:CreateNatGateway": "natgateway", "ec2:AllocateAddress": "elastic-ip",
	"ec2:RunInstances": "instance",
}
