package emulator_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

func TestClockDeletedDatabaseStaysDeletingAndKeepsItsSubnetGroup(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	net, api := ec2.NewFromConfig(env.For("us-east-1")), rds.NewFromConfig(env.For("us-east-1"))
	vpc, err := net.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		s, err := net.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String([]string{"10.0.1.0/24", "10.0.2.0/24"}[i]), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, *s.Subnet.SubnetId)
	}
	if _, err := api.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("dbnet"), DBSubnetGroupDescription: aws.String("d"), SubnetIds: subnets}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db"), DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("mysql"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("secret123456"), DBSubnetGroupName: aws.String("dbnet")}); err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	del, err := api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("db"), SkipFinalSnapshot: aws.Bool(true)})
	if err != nil || aws.ToString(del.DBInstance.DBInstanceStatus) != "deleting" {
		t.Fatalf("DeleteDBInstance: %v %v", del, err)
	}
	one, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("db")})
	if err != nil || aws.ToString(one.DBInstances[0].DBInstanceStatus) != "deleting" {
		t.Fatalf("describe right after delete: %v %v", one, err)
	}
	all, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil || len(all.DBInstances) != 1 {
		t.Fatalf("listing right after delete: %v %v", all, err)
	}
	if _, err := api.DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String("dbnet")}); apiCode(err) != "InvalidDBSubnetGroupStateFault" {
		t.Fatalf("subnet group of a deleting database: %v", err)
	}
	k.Advance(k.Durations().DBInstanceDelete - 2*time.Second)
	start := time.Now()
	if err := rds.NewDBInstanceDeletedWaiter(api, func(o *rds.DBInstanceDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).
		Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("db")}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("deleted waiter done in %v with 2 s left", time.Since(start))
	}
	if _, err := api.DeleteDBSubnetGroup(ctx, &rds.DeleteDBSubnetGroupInput{DBSubnetGroupName: aws.String("dbnet")}); err != nil {
		t.Fatalf("subnet group once the database is gone: %v", err)
	}
}

func TestClockDeletingNATGatewayHoldsItsSubnetAndAddress(t *testing.T) {
	p, env := world(t)
	ctx := testCtx(t)
	api := ec2.NewFromConfig(env.For("us-east-1"))
	vpc, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := api.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	k := p.EnableClock(realTime)
	nat, err := api.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: sub.Subnet.SubnetId, AllocationId: eip.AllocationId})
	if err != nil {
		t.Fatal(err)
	}
	k.Advance(k.Durations().NatGateway)
	id := *nat.NatGateway.NatGatewayId
	if _, err := api.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	out, err := api.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
	if err != nil || out.NatGateways[0].State != ec2types.NatGatewayStateDeleting {
		t.Fatalf("right after delete: %v %v", out, err)
	}
	if _, err := api.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: sub.Subnet.SubnetId}); apiCode(err) != "DependencyViolation" {
		t.Fatalf("subnet of a deleting NAT gateway: %v", err)
	}
	if _, err := api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId}); apiCode(err) != "AuthFailure" {
		t.Fatalf("address of a deleting NAT gateway: %v", err)
	}
	k.Advance(k.Durations().NatGatewayDelete - 2*time.Second)
	if err := ec2.NewNatGatewayDeletedWaiter(api, func(o *ec2.NatGatewayDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).
		Wait(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId}); err != nil {
		t.Fatalf("address once the NAT gateway is deleted: %v", err)
	}
	if _, err := api.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: sub.Subnet.SubnetId}); err != nil {
		t.Fatalf("subnet once the NAT gateway is deleted: %v", err)
	}
}
