package iampolicy

// planeActions are one service's recovery-plane actions: read ones take
// no resource-level permission; deletes may require the stack tag.
type planeActions struct {
	read, write, delete []string
	tagDeletes          bool
}

// prepareActions is what `prepare` calls in the DR region (besides IAM,
// granted by role name): the network, subnet groups, the DR load balancer
// and the Route 53 failover records with their health check.
var prepareActions = map[string]planeActions{
	"ec2": {
		read: []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeInternetGateways",
			"ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints"},
		// CreateTags: every create carries TagSpecifications, which EC2
		// authorises as CreateTags.
		write: []string{"ec2:CreateVpcEndpoint", "ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet", "ec2:ModifySubnetAttribute",
			"ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:CreateRouteTable", "ec2:CreateRoute",
			"ec2:AssociateRouteTable", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags"},
	},
	"rds": {
		read:  []string{"rds:DescribeDBSubnetGroups"},
		write: []string{"rds:CreateDBSubnetGroup", "rds:AddTagsToResource"},
	},
	"elasticache": {
		read:  []string{"elasticache:DescribeCacheSubnetGroups"},
		write: []string{"elasticache:CreateCacheSubnetGroup", "elasticache:AddTagsToResource"},
	},
	"elasticloadbalancing": {
		read: []string{"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTags"},
		write: []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
			"elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags"},
	},
	"route53": {
		read: []string{"route53:ListHostedZonesByName", "route53:ListHealthChecks"},
		write: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:GetChange",
			"route53:CreateHealthCheck", "route53:ChangeTagsForResource"},
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
		write: []string{"ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:RunInstances",
			"ec2:CreateNatGateway", "ec2:AllocateAddress", "ec2:CreateRoute", "ec2:ReplaceRoute"},
		delete: []string{"ec2:DeleteNatGateway", "ec2:ReleaseAddress", "ec2:DeleteRoute", "ec2:DeleteVpcEndpoints", "ec2:DeleteLaunchTemplate", "ec2:DeleteVpc", "ec2:DeleteSubnet", "ec2:DeleteSecurityGroup",
			"ec2:RevokeSecurityGroupIngress", "ec2:DeleteRouteTable", "ec2:DisassociateRouteTable",
			"ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"},
		tagDeletes: true,
	},
	"rds": {
		read: []string{"rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSubnetGroups", "rds:DescribeDBSnapshots"},
		// CreateDBSnapshot and CopyDBSnapshot: failback snapshots the DR
		// database and copies it back to the primary region.
		// CreateDBInstanceReadReplica and PromoteReadReplica: failback
		// catches up by a cross-region replica of the DR database.
		write: []string{"rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance",
			"rds:AddTagsToResource", "rds:CreateDBSnapshot", "rds:CopyDBSnapshot",
			"rds:CreateDBInstanceReadReplica", "rds:PromoteReadReplica"},
		delete: []string{"rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:DeleteDBSubnetGroup"},
	},
	"elasticache": {
		read:   []string{"elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheSubnetGroups", "elasticache:ListTagsForResource"},
		write:  []string{"elasticache:CreateReplicationGroup", "elasticache:AddTagsToResource"},
		delete: []string{"elasticache:DeleteReplicationGroup", "elasticache:DeleteCacheSubnetGroup"},
	},
	"elasticloadbalancing": {
		read: []string{"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags"},
		write: []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
			"elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags"},
		delete:     []string{"elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup"},
		tagDeletes: true,
	},
	"autoscaling": {
		read:       []string{"autoscaling:DescribeAutoScalingGroups"},
		// UpdateAutoScalingGroup: failback's write freeze scales the DR app to zero.
		write:      []string{"autoscaling:CreateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:UpdateAutoScalingGroup"},
		delete:     []string{"autoscaling:DeleteAutoScalingGroup"},
		tagDeletes: true,
	},
	"route53": {
		read: []string{"route53:ListHostedZonesByName", "route53:ListHealthChecks"},
		write: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:GetChange",
			"route53:DeleteHealthCheck"},
	},
	// Failback reads the replica's ReplicaLag before promoting it.
	"cloudwatch": {
		read: []string{"cloudwatch:GetMetricStatistics"},
	},
}
