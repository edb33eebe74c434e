package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// teardownNetwork deletes what `prepare` made, and only that: every piece
// is found by the stack's prepare tags. A VPC that holds anything pilotlight
// did not make is kept, and said so, rather than emptied.
func (r *Recovery) teardownNetwork(ctx context.Context) (runbook.Outputs, error) {
	cfg := r.cfg
	c := r.c
	n := newNames(cfg, "")
	var deleted, problems []string
	fail := func(what string, err error) { problems = append(problems, fmt.Sprintf("%s: %v", what, err)) }

	if d := cfg.Recover.DNS; d != nil && d.Mode == spec.DNSFailoverRecords {
		if err := r.deleteFailoverRecords(ctx, d); err != nil {
			fail("failover records", err)
		} else {
			deleted = append(deleted, "failover records and health check")
		}
	}
	out := runbook.Outputs{}
	if err := r.deleteLB(ctx, n.preparedLB(), n.preparedTG(), "prepare", out); err != nil {
		fail("DR load balancer", err)
	}
	if err := deleteAppRole(ctx, c, cfg); err != nil {
		fail("app role", err)
	}
	if d := cfg.Recover.Database; d == nil || d.SubnetGroup == "" {
		if _, err := c.rds.DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String(n.dbSubnetGroup())}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			fail("DB subnet group "+n.dbSubnetGroup(), err)
		}
	}
	if ca := cfg.Recover.Cache; ca == nil || ca.SubnetGroup == "" {
		if _, err := c.cache.DeleteCacheSubnetGroup(ctx, &elasticache.DeleteCacheSubnetGroupInput{CacheSubnetGroupName: aws.String(n.cacheSubnetGroup())}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			fail("cache subnet group "+n.cacheSubnetGroup(), err)
		}
	}
	vpc, err := findOne(ctx, c, cfg.Stack, "vpc")
	if err != nil {
		return nil, err
	}
	if vpc != "" {
		foreign, err := foreignInVPC(ctx, c, cfg.Stack, vpc)
		if err != nil {
			return nil, err
		}
		if err := deleteNetworkPieces(ctx, c, cfg.Stack, vpc); err != nil {
			fail("network", err)
		}
		if len(foreign) > 0 {
			out["kept_vpc"] = vpc + " (holds resources pilotlight did not make: " + strings.Join(foreign, ", ") + ")"
		} else if _, err := c.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpc)}); err != nil {
			fail("vpc "+vpc, err)
		} else {
			deleted = append(deleted, "vpc "+vpc)
		}
	}
	out["deleted"] = strings.Join(deleted, ", ")
	if len(problems) > 0 {
		return out, fmt.Errorf("could not delete: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

func (r *Recovery) deleteFailoverRecords(ctx context.Context, d *spec.DNS) error {
	c := r.c
	zoneID, err := findZone(ctx, c, d.Zone)
	if err != nil {
		return err
	}
	existing, err := failoverRecords(ctx, c, zoneID, d.Record)
	if err != nil {
		return err
	}
	var changes []r53types.Change
	for _, id := range []string{"primary", "secondary"} {
		if rr, ok := existing[id]; ok {
			rr := rr
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &rr})
		}
	}
	if len(changes) > 0 {
		// Give the name back its simple record to production, in the same
		// batch: it must never stop resolving.
		if d.PrimaryTarget != "" {
			plain, err := recordTo(d, d.Record, d.PrimaryTarget, r.cfg.Primary.Region)
			if err != nil {
				return err
			}
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &plain})
		}
		if err := changeRecords(ctx, c, zoneID, r.wait, changes...); err != nil {
			return err
		}
	}
	hcs, err := c.r53.ListHealthChecks(ctx, &route53.ListHealthChecksInput{})
	if err != nil {
		return fmt.Errorf("list health checks: %w", err)
	}
	for _, h := range hcs.HealthChecks {
		if strings.HasPrefix(aws.ToString(h.CallerReference), healthCheckPrefix(r.cfg.Stack)) {
			if _, err := c.r53.DeleteHealthCheck(ctx, &route53.DeleteHealthCheckInput{HealthCheckId: h.Id}); err != nil {
				return fmt.Errorf("delete health check %s: %w", aws.ToString(h.Id), err)
			}
		}
	}
	return nil
}

func deleteAppRole(ctx context.Context, c *clients, cfg *spec.Config) error {
	name := newNames(cfg, "").appRole()
	role, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var nf *iamtypes.NoSuchEntityException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get role %s: %w", name, err)
	}
	t := map[string]string{}
	for _, tg := range role.Role.Tags {
		t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if !tags.Managed(t, cfg.Stack) {
		return nil
	}
	if _, err := c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("remove role %s from its profile: %w", name, err)
	}
	if _, err := c.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(name)}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete instance profile %s: %w", name, err)
	}
	if _, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("media")}); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete policy of role %s: %w", name, err)
	}
	if _, err := c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
		return fmt.Errorf("delete role %s: %w", name, err)
	}
	return nil
}

// foreignInVPC lists what in the VPC pilotlight did not make.
func foreignInVPC(ctx context.Context, c *clients, stack, vpc string) ([]string, error) {
	var foreign []string
	inVPC := []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
	mine := func(ts []ec2types.Tag) bool {
		t := map[string]string{}
		for _, tg := range ts {
			t[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return tags.Managed(t, stack)
	}
	sn, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: inVPC})
	if err != nil {
		return nil, fmt.Errorf("describe subnets of %s: %s: %w", vpc, c.region, err)
	}
	for _, s := range sn.Subnets {
		if !mine(s.Tags) {
			foreign = append(foreign, aws.ToString(s.SubnetId))
		}
	}
	sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: inVPC})
	if err != nil {
		return nil, fmt.Errorf("describe security groups of %s: %s: %w", vpc, c.region, err)
	}
	for _, g := range sgs.SecurityGroups {
		if aws.ToString(g.GroupName) != "default" && !mine(g.Tags) {
			foreign = append(foreign, aws.ToString(g.GroupId))
		}
	}
	inst, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: append(inVPC, ec2types.Filter{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}})})
	if err != nil {
		return nil, fmt.Errorf("describe instances of %s: %s: %w", vpc, c.region, err)
	}
	for _, res := range inst.Reservations {
		for _, i := range res.Instances {
			if !mine(i.Tags) {
				foreign = append(foreign, aws.ToString(i.InstanceId))
			}
		}
	}
	return foreign, nil
}

// deleteNetworkPieces deletes the prepared security groups, route table,
// subnets and internet gateway. Security groups reference each other, so
// their rules go first (moto would let a referenced group go; AWS would not).
func deleteNetworkPieces(ctx context.Context, c *clients, stack, vpc string) error {
	managed := []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
		{Name: aws.String("tag:" + tags.Stack), Values: []string{stack}},
		{Name: aws.String("tag:" + tags.OpKind), Values: []string{"prepare"}},
	}
	sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: managed})
	if err != nil {
		return fmt.Errorf("describe security groups: %s: %w", c.region, err)
	}
	for _, g := range sgs.SecurityGroups {
		if len(g.IpPermissions) > 0 {
			if _, err := c.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissions}); err != nil {
				return fmt.Errorf("revoke rules of %s: %s: %w", aws.ToString(g.GroupId), c.region, err)
			}
		}
	}
	for _, g := range sgs.SecurityGroups {
		if _, err := c.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId}); err != nil {
			return fmt.Errorf("delete security group %s: %s: %w", aws.ToString(g.GroupId), c.region, err)
		}
	}
	eps, err := c.ec2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: managed})
	if err != nil {
		return fmt.Errorf("describe VPC endpoints: %s: %w", c.region, err)
	}
	var epIDs []string
	for _, e := range eps.VpcEndpoints {
		epIDs = append(epIDs, aws.ToString(e.VpcEndpointId))
	}
	if len(epIDs) > 0 {
		if _, err := c.ec2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: epIDs}); err != nil {
			return fmt.Errorf("delete VPC endpoints %v: %s: %w", epIDs, c.region, err)
		}
	}
	rts, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: managed})
	if err != nil {
		return fmt.Errorf("describe route tables: %s: %w", c.region, err)
	}
	for _, rt := range rts.RouteTables {
		for _, a := range rt.Associations {
			if a.SubnetId != nil {
				if _, err := c.ec2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId}); err != nil {
					return fmt.Errorf("disassociate %s: %s: %w", aws.ToString(rt.RouteTableId), c.region, err)
				}
			}
		}
		if _, err := c.ec2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rt.RouteTableId}); err != nil {
			return fmt.Errorf("delete route table %s: %s: %w", aws.ToString(rt.RouteTableId), c.region, err)
		}
	}
	sn, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: managed})
	if err != nil {
		return fmt.Errorf("describe subnets: %s: %w", c.region, err)
	}
	for _, s := range sn.Subnets {
		if _, err := c.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s.SubnetId}); err != nil {
			return fmt.Errorf("delete subnet %s: %s: %w", aws.ToString(s.SubnetId), c.region, err)
		}
	}
	igws, err := c.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{managed[1], managed[2]}})
	if err != nil {
		return fmt.Errorf("describe internet gateways: %s: %w", c.region, err)
	}
	for _, g := range igws.InternetGateways {
		for _, a := range g.Attachments {
			if _, err := c.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: g.InternetGatewayId, VpcId: a.VpcId}); err != nil {
				return fmt.Errorf("detach %s: %s: %w", aws.ToString(g.InternetGatewayId), c.region, err)
			}
		}
		if _, err := c.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: g.InternetGatewayId}); err != nil {
			return fmt.Errorf("delete %s: %s: %w", aws.ToString(g.InternetGatewayId), c.region, err)
		}
	}
	return nil
}
