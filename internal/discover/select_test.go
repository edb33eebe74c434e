package discover

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestTagSelectingNothingProtectableFails: --tag that selects only a load
// balancer (recreated at recovery, never copied) fails instead of writing
// a config that protects nothing, which validate would call valid.
func TestTagSelectingNothingProtectableFails(t *testing.T) {
	t.Parallel()
	const P = "us-east-1"
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	ctx := ctxT(t)
	e := ec2.NewFromConfig(env.For(P))
	v := must(e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.4.0.0/16")}))
	var subnets []string
	for i, n := range []string{"10.4.1.0/24", "10.4.2.0/24"} {
		sn := must(e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: v.Vpc.VpcId, CidrBlock: aws.String(n), AvailabilityZone: aws.String(P + string(rune('a'+i)))}))
		subnets = append(subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	must(elb.NewFromConfig(env.For(P)).CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("lonely-alb"), Subnets: subnets,
		Tags: []elbtypes.Tag{{Key: aws.String("stack"), Value: aws.String("lonely")}}}))

	_, err := Discover(ctx, NewClients(env, P), Options{Primary: P, DR: "us-west-2", Tags: map[string]string{"stack": "lonely"}})
	if !errors.Is(err, ErrNothingFound) || !strings.Contains(err.Error(), "stack=lonely") || !strings.Contains(err.Error(), "load balancer lonely-alb") {
		t.Fatalf("want ErrNothingFound naming the tags and the load balancer, got %v", err)
	}

	// A database with a custom parameter group under the same tag: now
	// there is something to protect, and the group is reported.
	r := rds.NewFromConfig(env.For(P))
	must(r.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("lonely-mysql8"),
		DBParameterGroupFamily: aws.String("mysql8.0"), Description: aws.String("tuned")}))
	must(r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("lonely-db"), Engine: aws.String("mysql"),
		DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("password123"), DBParameterGroupName: aws.String("lonely-mysql8"),
		Tags: rdsTags("stack", "lonely")}))
	d, err := Discover(ctx, NewClients(env, P), Options{Primary: P, DR: "us-west-2", Tags: map[string]string{"stack": "lonely"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Databases) != 1 || d.Databases[0].ParameterGroup != "lonely-mysql8" {
		t.Fatalf("databases %+v", d.Databases)
	}
}

func rdsTags(kv ...string) []rdstypes.Tag {
	var out []rdstypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, rdstypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}
