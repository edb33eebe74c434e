package readiness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestAlarmCheck: status says whether deploy's alarms exist, which are
// missing, and which fire.
func TestAlarmCheck(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "pilotlight.yaml")
	if err := os.WriteFile(p, []byte(`stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - { id: wordpress-db, every: 2h }
  buckets:
    - { name: media, source: wp-media-prod, replica: wp-media-dr }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	// The SDK speaks RPCv2 CBOR to CloudWatch by default, which moto 5.2.1
	// does not serve; AWS serves awsQuery too, so the test switches.
	cw := cloudwatch.NewFromConfig(env.For("cn-north-1"), func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
	})

	if c := AlarmCheck(ctx, cw, cfg); !c.Ready || !c.Warn || !strings.Contains(c.Detail, "none in cn-north-1") {
		t.Fatalf("no alarms: %+v", c)
	}
	want, err := deploy.Alarms(cfg)
	if err != nil || len(want) != 3 {
		t.Fatalf("alarms %+v %v", want, err)
	}
	put := func(a deploy.Alarm) {
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(a.Name),
			Namespace: aws.String(serve.MetricNamespace), MetricName: aws.String(a.Metric), Statistic: cwtypes.Statistic(a.Statistic),
			Period: aws.Int32(a.Period), EvaluationPeriods: aws.Int32(a.EvaluationPeriods), Threshold: aws.Float64(a.Threshold),
			ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison)}); err != nil {
			t.Fatal(err)
		}
	}
	put(want[0])
	put(want[1])
	if c := AlarmCheck(ctx, cw, cfg); !c.Warn || !strings.Contains(c.Detail, "1 of 3 missing") || !strings.Contains(c.Detail, want[2].Name) {
		t.Fatalf("one missing: %+v", c)
	}
	put(want[2])
	if c := AlarmCheck(ctx, cw, cfg); c.Warn || !c.Ready || c.Detail != "3 in cn-north-1, none firing" {
		t.Fatalf("all there: %+v", c)
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(want[0].Name),
		StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	if c := AlarmCheck(ctx, cw, cfg); !c.Warn || !strings.Contains(c.Detail, "firing: "+want[0].Name) {
		t.Fatalf("firing: %+v", c)
	}
}
