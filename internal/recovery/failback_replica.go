package recovery

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/pilotlight/pilotlight/internal/runbook"
)

// replicaLagAPI is the part of CloudWatch the final catch-up reads.
type replicaLagAPI interface {
	GetMetricStatistics(context.Context, *cloudwatch.GetMetricStatisticsInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// waitReplicaCaughtUp waits until RDS reports, for a minute that began at
// or after the freeze, a replica lag of zero: promoting earlier would
// leave behind the writes still in flight from DR. RDS publishes
// ReplicaLag once a minute for a read replica.
func (f *Failback) waitReplicaCaughtUp(ctx context.Context, id string, frozen time.Time) error {
	region := f.cfg.Primary.Region
	cw := replicaLagAPI(cloudwatch.NewFromConfig(f.env.For(region), func(o *cloudwatch.Options) {
		o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801)
	}))
	_, err := waitFor(ctx, f.home.wait, "replica lag 0 on "+id+" after the freeze", func(ctx context.Context) (struct{}, bool, error) {
		lag, at, err := latestReplicaLag(ctx, cw, id, frozen)
		if err != nil {
			return struct{}{}, false, fmt.Errorf("replica lag of %s: %s: %w", id, region, err)
		}
		f.home.opts.Log.Debug("failback: replica lag", "db", id, "region", region, "lag_seconds", lag, "at", at)
		return struct{}{}, !at.IsZero() && lag == 0, nil
	})
	return err
}

// latestReplicaLag is the newest ReplicaLag maximum of DB id in a minute
// starting at or after since; a zero time when there is none yet.
func latestReplicaLag(ctx context.Context, cw replicaLagAPI, id string, since time.Time) (float64, time.Time, error) {
	now := time.Now().UTC()
	out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/RDS"), MetricName: aws.String("ReplicaLag"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("DBInstanceIdentifier"), Value: aws.String(id)}},
		StartTime:  aws.Time(since.Add(-time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
		Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	var lag float64
	var at time.Time
	for _, d := range out.Datapoints {
		t := aws.ToTime(d.Timestamp)
		if !t.Before(since.Truncate(time.Minute)) && t.After(at) {
			at, lag = t, aws.ToFloat64(d.Maximum)
		}
	}
	return lag, at, nil
}

// runAppRole rewrites the app role's policy so that the primary's app can
// use the source buckets, for a role an older prepare made for the
// replicas only. IAM's control plane answers again: the primary is back.
func (f *Failback) runAppRole(ctx context.Context, rc *runbook.RunContext) (runbook.Outputs, error) {
	var ch changes
	name, err := ensureAppRole(ctx, f.home.c.iam, f.cfg, &ch)
	if err != nil {
		return nil, err
	}
	return outputs("role", name), nil
}
