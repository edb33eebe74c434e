package deploy

import (
	"context"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

var queryProtocol = []func(*cloudwatch.Options){QueryProtocol}

// QueryProtocol makes a CloudWatch client speak awsQuery: the SDK's
// default is Smithy RPCv2 CBOR, which moto 5.2.1 does not serve (404);
// AWS serves both, so only the test switches.
func QueryProtocol(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
}

// TestDeployMakesAlarms: deploy puts, in the DR region, an RPO alarm per
// database and image and a repeated-failure alarm per resource, on the
// metrics the Lambda writes, notifying a topic it makes; a second deploy
// changes nothing; a topic named in the config is used instead.
func TestDeployMakesAlarms(t *testing.T) {
	t.Parallel()
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	ctx := context.Background()
	cfg := writeConfig(t, cfgText+"    - { name: uploads, source: wp-uploads-prod, replica: wp-uploads-dr }\n")
	pkg, err := BuildPackage(ctx, cfg, binary(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Package: pkg, CloudWatchOptions: queryProtocol}
	res, err := Deploy(ctx, env, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	topics, err := sns.NewFromConfig(env.For("cn-north-1")).ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(topics.Topics) != 1 || aws.ToString(topics.Topics[0].TopicArn) != res.AlarmTopic ||
		!strings.HasPrefix(res.AlarmTopic, "arn:aws-cn:sns:cn-north-1:") || !strings.HasSuffix(res.AlarmTopic, ":wordpress-pilotlight-alarms") {
		t.Fatalf("topic %s, topics %+v %v", res.AlarmTopic, topics, err)
	}
	cw := cloudwatch.NewFromConfig(env.For("cn-north-1"), QueryProtocol)
	got, err := ExistingAlarms(ctx, cw, "wordpress", "cn-north-1")
	if err != nil {
		t.Fatal(err)
	}
	// database and image: RPO and failures; two buckets: failures.
	want := map[string]struct {
		metric    string
		threshold float64
	}{
		"pilotlight-wordpress-wordpress-db-rpo":      {serve.MetricRPO, 4 * 3600},
		"pilotlight-wordpress-wordpress-db-failures": {serve.MetricConsecutiveFailures, 2},
		"pilotlight-wordpress-wordpress-rpo":         {serve.MetricRPO, cfg.Protect.Images[0].TargetRPO.D.Seconds()},
		"pilotlight-wordpress-wordpress-failures":    {serve.MetricConsecutiveFailures, 2},
		"pilotlight-wordpress-media-failures":        {serve.MetricConsecutiveFailures, 2},
		"pilotlight-wordpress-uploads-failures":      {serve.MetricConsecutiveFailures, 2},
	}
	if len(got) != len(want) {
		t.Errorf("%d alarms, want %d: %v", len(got), len(want), keys(got))
	}
	for name, w := range want {
		a, ok := got[name]
		if !ok {
			t.Errorf("no alarm %s", name)
			continue
		}
		dims := map[string]string{}
		for _, d := range a.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		resource := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "pilotlight-wordpress-"), "-rpo"), "-failures")
		if aws.ToString(a.Namespace) != serve.MetricNamespace || aws.ToString(a.MetricName) != w.metric || aws.ToFloat64(a.Threshold) != w.threshold ||
			dims[serve.DimensionStack] != "wordpress" || dims[serve.DimensionResource] != resource ||
			len(a.AlarmActions) != 1 || a.AlarmActions[0] != res.AlarmTopic {
			t.Errorf("%s: %s/%s > %g on %v -> %v", name, aws.ToString(a.Namespace), aws.ToString(a.MetricName), aws.ToFloat64(a.Threshold), dims, a.AlarmActions)
		}
	}

	again, err := Deploy(ctx, env, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged() {
		t.Fatalf("second deploy changed %q", again.Changes)
	}

	// The failover pin that prepare made shares the prefix: deploy must
	// leave it alone (deleting it would unpin a stack that failed over).
	pin := "pilotlight-wordpress-failed-over"
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(pin), Namespace: aws.String("pilotlight"),
		MetricName: aws.String("FailedOver"), Statistic: cwtypes.StatisticMaximum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold}); err != nil {
		t.Fatal(err)
	}

	// The user's own topic, and a bucket dropped: its alarm goes.
	mine := "arn:aws-cn:sns:cn-north-1:" + strings.Split(res.AlarmTopic, ":")[4] + ":oncall"
	cfg2 := writeConfig(t, cfgText+"alarms: { sns_topic: \""+mine+"\" }\n")
	pkg2, _ := BuildPackage(ctx, cfg2, binary(t), "", "")
	third, err := Deploy(ctx, env, cfg2, Options{Package: pkg2, CloudWatchOptions: opts.CloudWatchOptions})
	if err != nil {
		t.Fatal(err)
	}
	if third.AlarmTopic != mine || !contains(third.Changes, "delete alarm pilotlight-wordpress-uploads-failures") {
		t.Fatalf("third deploy: topic %s, %q", third.AlarmTopic, third.Changes)
	}
	got, _ = ExistingAlarms(ctx, cw, "wordpress", "cn-north-1")
	if _, ok := got["pilotlight-wordpress-uploads-failures"]; ok || len(got) != 5 {
		t.Fatalf("after the third deploy: %v", keys(got))
	}
	if all, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{pin}}); err != nil || len(all.MetricAlarms) != 1 {
		t.Fatalf("deploy deleted the failover pin %s: %v %v", pin, all, err)
	}
	for name, a := range got {
		if len(a.AlarmActions) != 1 || a.AlarmActions[0] != mine {
			t.Errorf("%s notifies %v, want %s", name, a.AlarmActions, mine)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
