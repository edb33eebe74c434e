package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// CleanupResult says what Cleanup deleted, what the emulator would not
// delete, and what failed.
type CleanupResult struct {
	Deleted []string `json:"deleted"`
	// Unsupported are deletions the emulator answered with HTTP 500, its
	// answer to an action it does not implement (moto 5.2.1 lacks
	// DeleteCacheSubnetGroup); Actions names those actions.
	Unsupported []string        `json:"unsupported,omitempty"`
	Actions     map[string]bool `json:"-"`
	Problems    []string        `json:"problems,omitempty"`
}

func (r *CleanupResult) record(what, action string, err error) {
	switch {
	case err == nil:
		r.Deleted = append(r.Deleted, what)
	case notFound(err):
		// Already gone: a re-run after an interrupted cleanup.
	case unimplemented(err):
		r.Unsupported = append(r.Unsupported, what+" (the emulator answered "+action+" with HTTP 500)")
		if r.Actions == nil {
			r.Actions = map[string]bool{}
		}
		r.Actions[action] = true
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", what, err))
	}
}

// unimplemented reports an HTTP 500 after retries: how moto answers an
// action it does not implement.
func unimplemented(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusInternalServerError
}

func notFound(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	c := ae.ErrorCode()
	return strings.Contains(c, "NotFound") || strings.HasSuffix(c, ".Malformed") || c == "NoSuchEntity" ||
		c == "NoSuchBucket" || c == "NoSuchHostedZone" || c == "ParameterNotFound" || c == "InvalidGroup.NotFound"
}

// Cleanup deletes production and everything pilotlight's protect plane
// left that no pilotlight verb deletes by design (recovery points in both
// regions, the replica bucket, the replication role), so that the demo
// leaves an emulator it did not start as it found it. It is for the demo's
// own environment only: it deletes by the ids in p and by the stack's
// pilotlight tags, and never anything else.
func Cleanup(ctx context.Context, env *awsenv.Env, cfg *spec.Config, p *Production) *CleanupResult {
	res := &CleanupResult{}
	pc := newClients(env, cfg.Primary.Region)
	dc := newClients(env, cfg.DR.Region)
	if p != nil {
		cleanDNS(ctx, pc, p, res)
		cleanApp(ctx, pc, p, res)
		cleanData(ctx, pc, p, res)
		cleanNetwork(ctx, pc, p, res)
	}
	for _, b := range cfg.Protect.Buckets {
		emptyBucket(ctx, pc.s3, b.Source, cfg.Primary.Region, res)
		emptyBucket(ctx, dc.s3, b.Replica, cfg.DR.Region, res)
	}
	cleanRole(ctx, pc, s3sync.RoleName(cfg.Stack), res)
	cleanRole(ctx, pc, s3sync.BatchRoleName(cfg.Stack), res)
	cleanBackupRole(ctx, pc, cfg.Stack, res)
	if cfg.Recover.App != nil {
		if param := cfg.Recover.App.Vars["db_password_parameter"]; param != "" {
			for _, c := range []*clients{pc, dc} {
				_, err := c.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(param)})
				res.record("parameter "+param+" in "+c.region, "DeleteParameter", err)
			}
		}
	}
	for _, c := range []*clients{pc, dc} {
		cleanPoints(ctx, env, c, cfg.Stack, res)
	}
	return res
}

func cleanDNS(ctx context.Context, c *clients, p *Production, res *CleanupResult) {
	if p.Zone == "" {
		return
	}
	out, err := c.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(p.Zone)})
	if err != nil {
		res.record("records of zone "+p.Zone, "ListResourceRecordSets", err)
		return
	}
	var changes []r53types.Change
	for _, rr := range out.ResourceRecordSets {
		if rr.Type == r53types.RRTypeSoa || rr.Type == r53types.RRTypeNs {
			continue
		}
		rr := rr
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
	}
	if len(changes) > 0 {
		_, err := c.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(p.Zone), ChangeBatch: &r53types.ChangeBatch{Changes: changes}})
		res.record(fmt.Sprintf("%d records in zone %s", len(changes), p.Zone), "ChangeResourceRecordSets", err)
	}
	_, err = c.r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(p.Zone)})
	res.record("hosted zone "+p.Zone, "DeleteHostedZone", err)
}

func cleanApp(ctx context.Context, c *clients, p *Production, res *CleanupResult) {
	if p.ASG != "" {
		_, err := c.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(p.ASG), ForceDelete: aws.Bool(true)})
		if err == nil {
			err = poll(ctx, "deletion of auto scaling group "+p.ASG, func(ctx context.Context) (bool, error) {
				g, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{p.ASG}})
				return err == nil && len(g.AutoScalingGroups) == 0, err
			})
		}
		res.record("auto scaling group "+p.ASG, "DeleteAutoScalingGroup", err)
	}
	if p.LoadBalancer != "" {
		_, err := c.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(p.LoadBalancer)})
		if err == nil {
			w := elb.NewLoadBalancersDeletedWaiter(c.elb, func(o *elb.LoadBalancersDeletedWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
			err = w.Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{p.LoadBalancer}}, waitLong)
		}
		res.record("load balancer "+prodALB, "DeleteLoadBalancer", err)
	}
	if p.TargetGroup != "" {
		_, err := c.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(p.TargetGroup)})
		res.record("target group "+prodName, "DeleteTargetGroup", err)
	}
	if p.LaunchTemplate != "" {
		_, err := c.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(p.LaunchTemplate)})
		res.record("launch template "+p.LaunchTemplate, "DeleteLaunchTemplate", err)
	}
	if p.Role != "" {
		_, err := c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(p.Role), RoleName: aws.String(p.Role)})
		if err == nil || notFound(err) {
			_, err = c.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(p.Role)})
		}
		res.record("instance profile "+p.Role, "DeleteInstanceProfile", err)
		cleanRole(ctx, c, p.Role, res)
	}
}

// cleanBackupRole deletes AWS Backup's service role when prepare made it
// for this stack (the aws-backup engine), detaching its managed policies.
func cleanBackupRole(ctx context.Context, c *clients, stack string, res *CleanupResult) {
	name := points.DefaultBackupRole
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil || !tags.Managed(tags.FromIAM(out.Role.Tags), stack) {
		return
	}
	att, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		res.record("role "+name, "ListAttachedRolePolicies", err)
		return
	}
	for _, a := range att.AttachedPolicies {
		if _, err := c.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: a.PolicyArn}); err != nil && !notFound(err) {
			res.record("policy "+aws.ToString(a.PolicyArn)+" of role "+name, "DetachRolePolicy", err)
		}
	}
	cleanRole(ctx, c, name, res)
}

// cleanRole deletes an IAM role with its inline policies.
func cleanRole(ctx context.Context, c *clients, name string, res *CleanupResult) {
	pols, err := c.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		res.record("role "+name, "ListRolePolicies", err)
		return
	}
	for _, pol := range pols.PolicyNames {
		if _, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pol)}); err != nil && !notFound(err) {
			res.record("policy "+pol+" of role "+name, "DeleteRolePolicy", err)
		}
	}
	_, err = c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
	res.record("role "+name, "DeleteRole", err)
}

func cleanData(ctx context.Context, c *clients, p *Production, res *CleanupResult) {
	if p.Cache != "" {
		_, err := c.cache.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(p.Cache)})
		// A deleting cache is gone for the demo's purpose: moto keeps one
		// `deleting` for ever (MOTO.md), so nothing waits on it.
		res.record("cache "+p.Cache, "DeleteReplicationGroup", err)
	}
	if p.CacheSubnetGroup != "" {
		_, err := c.cache.DeleteCacheSubnetGroup(ctx, &elasticache.DeleteCacheSubnetGroupInput{CacheSubnetGroupName: aws.String(p.CacheSubnetGroup)})
		res.record("cache subnet group "+p.CacheSubnetGroup, "DeleteCacheSubnetGroup", err)
	}
	if p.DB != "" {
		_, err := c.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(p.DB), SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(true)})
		if err == nil {
			w := rds.NewDBInstanceDeletedWaiter(c.rds, func(o *rds.DBInstanceDeletedWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
			err = w.Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(p.DB)}, waitLong)
		}
		res.record("DB instance "+p.DB, "DeleteDBInstance", err)
	}
	if p.DBSubnetGroup != "" {
		_, err := c.rds.DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String(p.DBSubnetGroup)})
		res.record("DB subnet group "+p.DBSubnetGroup, "DeleteDBSubnetGroup", err)
	}
}

func cleanNetwork(ctx context.Context, c *clients, p *Production, res *CleanupResult) {
	if p.NATGateway != "" {
		_, err := c.ec2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(p.NATGateway)})
		if err == nil {
			w := ec2.NewNatGatewayDeletedWaiter(c.ec2, func(o *ec2.NatGatewayDeletedWaiterOptions) { o.MinDelay, o.MaxDelay = waitMin, waitMax })
			err = w.Wait(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{p.NATGateway}}, waitLong)
		}
		res.record("NAT gateway "+p.NATGateway, "DeleteNatGateway", err)
	}
	if p.NATAddress != "" {
		_, err := c.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(p.NATAddress)})
		res.record("elastic IP "+p.NATAddress, "ReleaseAddress", err)
	}
	// The groups reference each other: rules first (AWS refuses to delete
	// a referenced group; moto would not, MOTO.md).
	if len(p.SecurityGroups) > 0 {
		var ids []string
		for _, id := range p.SecurityGroups {
			ids = append(ids, id)
		}
		sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: ids})
		if err != nil {
			res.record("security groups of "+p.VPC, "DescribeSecurityGroups", err)
		} else {
			for _, g := range sgs.SecurityGroups {
				if len(g.IpPermissions) > 0 {
					_, err := c.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissions})
					if err != nil {
						res.record("rules of "+aws.ToString(g.GroupId), "RevokeSecurityGroupIngress", err)
					}
				}
			}
			for _, g := range sgs.SecurityGroups {
				_, err := c.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId})
				res.record("security group "+aws.ToString(g.GroupName), "DeleteSecurityGroup", err)
			}
		}
	}
	if p.PublicRoutes != "" {
		rts, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{p.PublicRoutes}})
		if err == nil {
			for _, rt := range rts.RouteTables {
				for _, a := range rt.Associations {
					if a.SubnetId != nil {
						if _, err := c.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); err != nil {
							res.record("association of "+p.PublicRoutes, "DisassociateRouteTable", err)
						}
					}
				}
			}
			_, err = c.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(p.PublicRoutes)})
		}
		res.record("route table "+p.PublicRoutes, "DeleteRouteTable", err)
	}
	for _, sn := range append(append(append([]string(nil), p.PublicSubnets...), p.AppSubnets...), p.DBSubnets...) {
		_, err := c.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(sn)})
		res.record("subnet "+sn, "DeleteSubnet", err)
	}
	if p.InternetGateway != "" {
		_, err := c.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(p.InternetGateway), VpcId: aws.String(p.VPC)})
		if err == nil || notFound(err) {
			_, err = c.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(p.InternetGateway)})
		}
		res.record("internet gateway "+p.InternetGateway, "DeleteInternetGateway", err)
	}
	if p.VPC != "" {
		_, err := c.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(p.VPC)})
		res.record("vpc "+p.VPC, "DeleteVpc", err)
	}
}

// emptyBucket deletes every version and delete marker, then the bucket:
// both buckets are versioned (replication needs it).
func emptyBucket(ctx context.Context, c s3API, bucket, region string, res *CleanupResult) {
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	deleted := 0
	for {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			res.record("bucket "+bucket+" in "+region, "ListObjectVersions", err)
			return
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) > 0 {
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			if err == nil && len(out.Errors) > 0 {
				err = fmt.Errorf("%d keys not deleted, first %s: %s", len(out.Errors), aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
			}
			if err != nil {
				res.record("objects of "+bucket, "DeleteObjects", err)
				return
			}
			deleted += len(ids)
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	res.record(fmt.Sprintf("bucket %s in %s (%d object versions)", bucket, region, deleted), "DeleteBucket", err)
}

// cleanPoints deletes the stack's recovery points in one region: manual
// RDS snapshots, AMIs and their EBS snapshots carrying the stack's
// pilotlight tags. Retention keeps the newest on purpose; the demo is the
// one place that removes them all.
func cleanPoints(ctx context.Context, env *awsenv.Env, c *clients, stack string, res *CleanupResult) {
	snaps, err := c.rds.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	if err != nil {
		res.record("DB snapshots in "+c.region, "DescribeDBSnapshots", err)
	} else {
		for _, s := range snaps.DBSnapshots {
			if !tags.Managed(tags.FromRDS(s.TagList), stack) {
				continue
			}
			_, err := c.rds.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: s.DBSnapshotIdentifier})
			res.record("DB snapshot "+aws.ToString(s.DBSnapshotIdentifier)+" in "+c.region, "DeleteDBSnapshot", err)
		}
	}
	imgs, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		res.record("images in "+c.region, "DescribeImages", err)
		return
	}
	for _, im := range imgs.Images {
		if !tags.Managed(tags.FromEC2(im.Tags), stack) {
			continue
		}
		_, err := c.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: im.ImageId})
		res.record("image "+aws.ToString(im.ImageId)+" in "+c.region, "DeregisterImage", err)
		for _, bd := range im.BlockDeviceMappings {
			if bd.Ebs != nil && bd.Ebs.SnapshotId != nil {
				_, err := c.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: bd.Ebs.SnapshotId})
				res.record("snapshot "+aws.ToString(bd.Ebs.SnapshotId)+" in "+c.region, "DeleteSnapshot", err)
			}
		}
	}
	// Snapshots tagged as the stack's that no image names any more.
	acct, err := env.Account(ctx, c.region)
	if err != nil {
		res.record("account", "GetCallerIdentity", err)
		return
	}
	ebs, err := c.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		res.record("snapshots in "+c.region, "DescribeSnapshots", err)
		return
	}
	for _, s := range ebs.Snapshots {
		// moto does not filter by owner (MOTO.md): check it here.
		if aws.ToString(s.OwnerId) != acct || !tags.Managed(tags.FromEC2(s.Tags), stack) {
			continue
		}
		_, err := c.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: s.SnapshotId})
		res.record("snapshot "+aws.ToString(s.SnapshotId)+" in "+c.region, "DeleteSnapshot", err)
	}
}
