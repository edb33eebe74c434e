package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

type cloudwatchAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	PutMetricAlarm(context.Context, *cloudwatch.PutMetricAlarmInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
	DeleteAlarms(context.Context, *cloudwatch.DeleteAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error)
}

type snsAPI interface {
	CreateTopic(context.Context, *sns.CreateTopicInput, ...func(*sns.Options)) (*sns.CreateTopicOutput, error)
}

// Alarm is one CloudWatch alarm deploy keeps, on a metric the Lambda
// writes (serve.Metric*).
type Alarm struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
	Metric   string `json:"metric"`
	// Statistic over Period seconds; the alarm fires when DatapointsToAlarm
	// of the last EvaluationPeriods are above Threshold (at or above, for
	// failures).
	Statistic         string  `json:"statistic"`
	Threshold         float64 `json:"threshold"`
	Period            int32   `json:"period_seconds"`
	EvaluationPeriods int32   `json:"evaluation_periods"`
	DatapointsToAlarm int32   `json:"datapoints_to_alarm"`
	Comparison        string  `json:"comparison"`
	// TreatMissingData: an RPO with no data for a whole target is an RPO
	// nobody refreshed, so it breaches; no failure data is no failure.
	TreatMissingData string `json:"treat_missing_data"`
	Description      string `json:"description"`
}

// AlarmTopicName is the SNS topic deploy makes when the config names none.
func AlarmTopicName(stack string) string { return fit(stack+"-pilotlight-alarms", 256) }

// AlarmPrefix starts the name of every alarm of stack.
func AlarmPrefix(stack string) string { return "pilotlight-" + stack + "-" }

// maxEvaluation is CloudWatch's bound on Period × EvaluationPeriods.
const maxEvaluation = 24 * time.Hour

// failurePeriod is short: a failed run's streak is judged as it arrives.
const failurePeriod = 300

// Alarms derives, per protected resource, an alarm on its RPO above its
// target (databases and images) and one on repeated run failures (every
// resource), in the order the config lists them.
func Alarms(cfg *spec.Config) ([]Alarm, error) {
	jobs, err := serve.Jobs(cfg, nil)
	if err != nil {
		return nil, err
	}
	var out []Alarm
	for _, j := range jobs {
		if j.TargetRPO > 0 {
			out = append(out, Alarm{
				Name: AlarmPrefix(cfg.Stack) + j.Resource + "-rpo", Resource: j.Resource, Metric: serve.MetricRPO,
				Statistic: string(cwtypes.StatisticMaximum), Threshold: j.TargetRPO.Seconds(),
				Period: period(j.TargetRPO, maxEvaluation), EvaluationPeriods: 1, DatapointsToAlarm: 1,
				Comparison: string(cwtypes.ComparisonOperatorGreaterThanThreshold), TreatMissingData: "breaching",
				Description: fmt.Sprintf("pilotlight %s: the newest DR copy of %s is older than its target RPO %s, or no run reported it for that long",
					cfg.Stack, j.Resource, j.TargetRPO),
			})
		}
		// Two failed runs in a row: one failure is retried by the next run,
		// two need a person. Between runs there is no data, and the alarm
		// keeps its state until a run reports again.
		out = append(out, Alarm{
			Name: AlarmPrefix(cfg.Stack) + j.Resource + "-failures", Resource: j.Resource, Metric: serve.MetricConsecutiveFailures,
			Statistic: string(cwtypes.StatisticMaximum), Threshold: 2, Period: failurePeriod, EvaluationPeriods: 1, DatapointsToAlarm: 1,
			Comparison: string(cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold), TreatMissingData: "ignore",
			Description: fmt.Sprintf("pilotlight %s: two or more runs of %s in a row failed (see `pilotlight runs` and the function's log)", cfg.Stack, j.Resource),
		})
	}
	return out, nil
}

// period rounds d up to whole minutes, at least one, at most limit.
func period(d, limit time.Duration) int32 {
	d = min(max(d, time.Minute), limit)
	m := (d + time.Minute - 1) / time.Minute
	return int32(m * 60)
}

// alarms makes the topic (unless the config names one) and puts every
// alarm whose definition differs; alarms of resources no longer in the
// config are deleted.
func (d *deployer) alarms(ctx context.Context) error {
	want, err := Alarms(d.cfg)
	if err != nil {
		return err
	}
	d.res.Alarms = want
	existing, err := d.existingAlarms(ctx)
	if err != nil {
		return err
	}
	topic := d.cfg.Alarms.SNSTopic
	if topic == "" {
		name := AlarmTopicName(d.cfg.Stack)
		topic = d.part.ARN("sns", d.region, d.acct, name)
		// CreateTopic is idempotent; it is said as a change only when
		// no alarm of the stack exists yet, i.e. on the first deploy.
		if len(existing) == 0 {
			d.change("create SNS topic %s for the alarms", name)
		}
		if !d.opts.DryRun {
			out, err := d.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Tags: snsTags(tags.Base(d.cfg.Stack))})
			if err != nil {
				return fmt.Errorf("create SNS topic %s: %s: %w", name, d.region, err)
			}
			topic = aws.ToString(out.TopicArn)
		}
	}
	d.res.AlarmTopic = topic
	keep := map[string]bool{}
	for _, a := range want {
		keep[a.Name] = true
		if cur, ok := existing[a.Name]; ok && sameAlarm(cur, a, d.cfg.Stack, topic) {
			continue
		}
		verb := "create"
		if _, ok := existing[a.Name]; ok {
			verb = "update"
		}
		d.change("%s alarm %s (%s %s > %g over %ds)", verb, a.Name, a.Statistic, a.Metric, a.Threshold, a.Period)
		if d.opts.DryRun {
			continue
		}
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(a.Name), AlarmDescription: aws.String(a.Description),
			Namespace: aws.String(serve.MetricNamespace), MetricName: aws.String(a.Metric),
			Dimensions:        alarmDimensions(d.cfg.Stack, a.Resource),
			Statistic:         cwtypes.Statistic(a.Statistic),
			Period:            aws.Int32(a.Period),
			EvaluationPeriods: aws.Int32(a.EvaluationPeriods), DatapointsToAlarm: aws.Int32(a.DatapointsToAlarm),
			Threshold: aws.Float64(a.Threshold), ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison),
			TreatMissingData: aws.String(a.TreatMissingData),
			AlarmActions:     []string{topic}, OKActions: []string{topic}, ActionsEnabled: aws.Bool(true),
		}
		if verb == "create" {
			in.Tags = cwTags(tags.Base(d.cfg.Stack))
		}
		if _, err := d.cw.PutMetricAlarm(ctx, in); err != nil {
			return fmt.Errorf("put alarm %s: %s: %w", a.Name, d.region, err)
		}
	}
	var gone []string
	for name := range existing {
		if !keep[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		d.change("delete alarm %s (its resource is no longer in the config)", name)
	}
	if len(gone) > 0 && !d.opts.DryRun {
		if _, err := d.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: gone}); err != nil {
			return fmt.Errorf("delete alarms %s: %s: %w", strings.Join(gone, ", "), d.region, err)
		}
	}
	return nil
}

// existingAlarms are the stack's alarms by name, recognised by prefix.
func (d *deployer) existingAlarms(ctx context.Context) (map[string]cwtypes.MetricAlarm, error) {
	return ExistingAlarms(ctx, d.cw, d.cfg.Stack, d.region)
}

// ExistingAlarms lists the stack's alarms in region by name.
func ExistingAlarms(ctx context.Context, cw interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}, stack, region string) (map[string]cwtypes.MetricAlarm, error) {
	out := map[string]cwtypes.MetricAlarm{}
	p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(AlarmPrefix(stack)),
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe alarms %s*: %s: %w", AlarmPrefix(stack), region, err)
		}
		for _, a := range page.MetricAlarms {
			// Only deploy's own alarms: the prefix also matches the
			// failover pin (pilotlight-<stack>-failed-over), which
			// prepare makes and which deploy must never delete.
			if name := aws.ToString(a.AlarmName); deployAlarm(name) {
				out[name] = a
			}
		}
	}
	return out, nil
}

// deployAlarm reports whether name is one of the alarms deploy makes.
func deployAlarm(name string) bool {
	return strings.HasSuffix(name, "-rpo") || strings.HasSuffix(name, "-failures")
}

func sameAlarm(cur cwtypes.MetricAlarm, a Alarm, stack, topic string) bool {
	dims := map[string]string{}
	for _, d := range cur.Dimensions {
		dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	return aws.ToString(cur.Namespace) == serve.MetricNamespace && aws.ToString(cur.MetricName) == a.Metric &&
		string(cur.Statistic) == a.Statistic && aws.ToFloat64(cur.Threshold) == a.Threshold &&
		aws.ToInt32(cur.Period) == a.Period && aws.ToInt32(cur.EvaluationPeriods) == a.EvaluationPeriods &&
		aws.ToInt32(cur.DatapointsToAlarm) == a.DatapointsToAlarm && string(cur.ComparisonOperator) == a.Comparison &&
		aws.ToString(cur.TreatMissingData) == a.TreatMissingData && aws.ToString(cur.AlarmDescription) == a.Description &&
		len(dims) == 2 && dims[serve.DimensionStack] == stack && dims[serve.DimensionResource] == a.Resource &&
		len(cur.AlarmActions) == 1 && cur.AlarmActions[0] == topic
}

func alarmDimensions(stack, resource string) []cwtypes.Dimension {
	return []cwtypes.Dimension{
		{Name: aws.String(serve.DimensionStack), Value: aws.String(stack)},
		{Name: aws.String(serve.DimensionResource), Value: aws.String(resource)},
	}
}

func cwTags(m map[string]string) []cwtypes.Tag {
	var out []cwtypes.Tag
	for k, v := range m {
		out = append(out, cwtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].Key) < aws.ToString(out[j].Key) })
	return out
}

func snsTags(m map[string]string) []snstypes.Tag {
	var out []snstypes.Tag
	for k, v := range m {
		out = append(out, snstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].Key) < aws.ToString(out[j].Key) })
	return out
}
