package recovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// The static pin of failover-records mode. Route 53 answers a failover
// pair with the PRIMARY while its health check passes, so a primary that
// comes back after a failover would take the traffic back to a stale
// database. The PRIMARY record's health check is therefore CALCULATED:
// healthy only while the production endpoint is healthy AND a "not failed
// over" check is; that second check watches a CloudWatch alarm in the DR
// region. Failover sets the alarm, failback clears it: both are calls to
// the DR region's CloudWatch, never to Route 53's control plane, which may
// live in the failed region.

// pinAPI is the part of CloudWatch the pin calls.
type pinAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	PutMetricAlarm(context.Context, *cloudwatch.PutMetricAlarmInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
	SetAlarmState(context.Context, *cloudwatch.SetAlarmStateInput, ...func(*cloudwatch.Options)) (*cloudwatch.SetAlarmStateOutput, error)
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
	DeleteAlarms(context.Context, *cloudwatch.DeleteAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error)
}

type pinClients struct {
	region string
	cw     pinAPI
}

func (c *clients) pin() pinClients { return pinClients{region: c.region, cw: c.cw} }

const (
	pinNamespace = "pilotlight"
	pinMetric    = "FailedOver"
)

// PinAlarmName is the CloudWatch alarm, in the DR region, that says the
// stack has failed over.
func PinAlarmName(stack string) string { return "pilotlight-" + stack + "-failed-over" }

// pinSupported reports whether Route 53 can watch an alarm in region.
func pinSupported(region string) bool {
	return slices.Contains(r53types.CloudWatchRegion("").Values(), r53types.CloudWatchRegion(region))
}

// usesPin reports whether cfg's PRIMARY record carries the pin.
func usesPin(cfg *spec.Config) bool {
	d := cfg.Recover.DNS
	return d != nil && d.Mode == spec.DNSFailoverRecords && pinSupported(cfg.DR.Region)
}

// PinRisk states what the pin of failover-records mode does not cover, for
// `validate` and `prepare` to print; "" when the mode has no pin.
func PinRisk(cfg *spec.Config) string {
	d := cfg.Recover.DNS
	if d == nil || d.Mode != spec.DNSFailoverRecords {
		return ""
	}
	if !pinSupported(cfg.DR.Region) {
		return fmt.Sprintf("Route 53 cannot watch a CloudWatch alarm in %s, so nothing pins traffic to the DR region after a failover: "+
			"when %s's load balancer answers again, Route 53 sends users back to the old stack and its stale database. "+
			"Stop the primary app (or remove its PRIMARY record) as soon as the region returns.", cfg.DR.Region, cfg.Primary.Region)
	}
	return fmt.Sprintf("after a failover, traffic stays on %s because the PRIMARY record's health check also requires the CloudWatch alarm %s in %s "+
		"to be OK; failover sets it to ALARM (DR-region calls only) and only failback clears it. Residual risks: Route 53 reads that alarm "+
		"through AlarmIdentifier.Region=%s (listed as accepted in the API reference; confirm once on your account with `pilotlight drill`); "+
		"until failover's last step sets the alarm, Route 53 follows the primary's health alone; and anyone who sets the alarm OK by hand "+
		"sends traffic back to %s.", cfg.DR.Region, PinAlarmName(cfg.Stack), cfg.DR.Region, cfg.DR.Region, cfg.Primary.Region)
}

// ensurePinAlarm makes the "failed over" alarm if it is missing. It never
// changes the state of one that exists: a `prepare` run after a failover
// must not unpin the stack.
func ensurePinAlarm(ctx context.Context, c pinClients, stack string, ch *changes) error {
	name := PinAlarmName(stack)
	out, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return fmt.Errorf("describe alarm %s: %s: %w", name, c.region, err)
	}
	if len(out.MetricAlarms) > 0 {
		return nil
	}
	if ch.would("create CloudWatch alarm %s in %s (the failover pin)", name, c.region) {
		return nil
	}
	t := tags.With(tags.Base(stack), tags.OpKind, "prepare", tags.Role, "failover-pin")
	var tl []cwtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(t)) {
		tl = append(tl, cwtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	if _, err := c.cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName:        aws.String(name),
		AlarmDescription: aws.String("pilotlight: stack " + stack + " has failed over to " + c.region + "; Route 53 keeps the PRIMARY record unhealthy while this is in ALARM. Cleared by `pilotlight failback`."),
		Namespace:        aws.String(pinNamespace), MetricName: aws.String(pinMetric),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Stack"), Value: aws.String(stack)}},
		Statistic:  cwtypes.StatisticMaximum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		// Failover publishes one data point; "ignore" keeps the alarm where
		// failover put it once that point ages out.
		TreatMissingData: aws.String("ignore"),
		Tags:             tl,
	}); err != nil {
		return fmt.Errorf("create alarm %s: %s: %w", name, c.region, err)
	}
	ch.add("created CloudWatch alarm %s in %s (the failover pin)", name, c.region)
	return nil
}

// errNoPin marks a pin alarm that `prepare` never made.
var errNoPin = errors.New("the failover pin alarm is missing: run `pilotlight prepare`")

// setPin moves the alarm: ALARM after a failover, OK after a failback. The
// data point keeps CloudWatch's own evaluation agreeing with the state set.
func setPin(ctx context.Context, c pinClients, stack string, failedOver bool) error {
	name := PinAlarmName(stack)
	out, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return fmt.Errorf("describe alarm %s: %s: %w", name, c.region, err)
	}
	if len(out.MetricAlarms) == 0 {
		return fmt.Errorf("alarm %s in %s: %w", name, c.region, errNoPin)
	}
	value, state, reason := 0.0, cwtypes.StateValueOk, "pilotlight failback: the primary region serves "+stack+" again"
	if failedOver {
		value, state, reason = 1.0, cwtypes.StateValueAlarm, "pilotlight failover: "+stack+" runs in "+c.region
	}
	if _, err := c.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(pinNamespace),
		MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String(pinMetric), Value: aws.Float64(value),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("Stack"), Value: aws.String(stack)}},
		}},
	}); err != nil {
		return fmt.Errorf("put metric %s/%s: %s: %w", pinNamespace, pinMetric, c.region, err)
	}
	if _, err := c.cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason),
	}); err != nil {
		return fmt.Errorf("set alarm %s to %s: %s: %w", name, state, c.region, err)
	}
	return nil
}

func deletePinAlarm(ctx context.Context, c pinClients, stack string) error {
	if _, err := c.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{PinAlarmName(stack)}}); err != nil {
		return fmt.Errorf("delete alarm %s: %s: %w", PinAlarmName(stack), c.region, err)
	}
	return nil
}

// pinCheckConfig is the "not failed over" health check: healthy while the
// alarm is OK, and while it has no data yet.
func pinCheckConfig(cfg *spec.Config) *r53types.HealthCheckConfig {
	return &r53types.HealthCheckConfig{
		Type:                         r53types.HealthCheckTypeCloudwatchMetric,
		AlarmIdentifier:              &r53types.AlarmIdentifier{Region: r53types.CloudWatchRegion(cfg.DR.Region), Name: aws.String(PinAlarmName(cfg.Stack))},
		InsufficientDataHealthStatus: r53types.InsufficientDataHealthStatusHealthy,
	}
}

// calculatedConfig is healthy only while every child is.
func calculatedConfig(children ...string) *r53types.HealthCheckConfig {
	return &r53types.HealthCheckConfig{
		Type: r53types.HealthCheckTypeCalculated, ChildHealthChecks: children, HealthThreshold: aws.Int32(int32(len(children))),
	}
}

// PinState is the failover pin's alarm state in the DR region for
// `status`: OK (Route 53 follows the primary's health), ALARM (failed
// over: traffic stays in the DR region until failback), or "missing"
// (prepare has not made it). "" when the config has no pin.
func PinState(ctx context.Context, env *awsenv.Env, cfg *spec.Config) (string, error) {
	if !usesPin(cfg) {
		return "", nil
	}
	c := newClients(env, cfg.DR.Region).pin()
	name := PinAlarmName(cfg.Stack)
	out, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return "", fmt.Errorf("describe alarm %s: %s: %w", name, c.region, err)
	}
	if len(out.MetricAlarms) == 0 {
		return "missing", nil
	}
	return string(out.MetricAlarms[0].StateValue), nil
}
