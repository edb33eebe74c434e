package recovery

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// clients are one region's service clients. Each kind takes only the calls
// it makes, through the narrow interfaces its file declares. Route 53 and
// IAM are global services: the SDK resolves their endpoints to the
// partition's control plane, wherever that lives; callers check
// partition.HomeOf before relying on them during a failover.
type clients struct {
	region string
	ec2    *ec2.Client
	rds    *rds.Client
	cache  *elasticache.Client
	elb    *elb.Client
	asg    *autoscaling.Client
	iam    *iam.Client
	r53    *route53.Client
	cw     *cloudwatch.Client
	kms    *kms.Client
	ssm    *ssm.Client
}

func newClients(env *awsenv.Env, region string) *clients {
	cfg := env.For(region)
	return &clients{
		region: region,
		ec2:    ec2.NewFromConfig(cfg),
		rds:    rds.NewFromConfig(cfg),
		cache:  elasticache.NewFromConfig(cfg),
		elb:    elb.NewFromConfig(cfg),
		asg:    autoscaling.NewFromConfig(cfg),
		iam:    iam.NewFromConfig(cfg),
		r53:    route53.NewFromConfig(cfg),
		cw:     newCloudWatch(cfg),
		kms:    kms.NewFromConfig(cfg),
		ssm:    ssm.NewFromConfig(cfg),
	}
}

// newCloudWatch speaks CloudWatch's query protocol rather than the SDK's
// default CBOR: every CloudWatch endpoint answers query (aws and aws-cn
// alike), and so does moto, which the tests run against; CBOR buys nothing
// for the pin's handful of calls.
func newCloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})
}
