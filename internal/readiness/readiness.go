// Package readiness answers, before a disaster, "could we fail over now,
// and lose how much?": per protected resource, the newest DR copy and its age
// against the target RPO, the DR KMS keys, the DR network, the replication
// rule and the last verify, the last drill. It only reads.
package readiness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/deploy"
	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/secrets"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Check is one readiness condition.
type Check struct {
	Resource string `json:"resource"`
	Name     string `json:"name"`
	Ready    bool   `json:"ready"`
	// Warn marks a condition that does not stop a failover but that an
	// operator should hear about: no drill yet, a primary that cannot be
	// asked.
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
}

// Serving says the stack runs in the DR region: a failover completed and
// no failback or teardown of it has since.
type Serving struct {
	Region    string    `json:"region"`
	Since     time.Time `json:"since"`
	Operation string    `json:"operation"`
	// Phase is the failover's: Completed, or InProgress, PartiallyFailed
	// or Failed for one that has not finished (resume it).
	Phase operation.Phase `json:"phase"`
	// Failback is what `pilotlight failback` would do, one line per step
	// ("id: plan"), so the way home is known before the primary answers.
	Failback []string `json:"failback,omitempty"`
}

// Complete reports whether the failover finished.
func (s *Serving) Complete() bool { return s.Phase == operation.PhaseCompleted }

// Status is the whole answer.
type Status struct {
	Stack  string    `json:"stack"`
	Region string    `json:"dr_region"`
	Ready  bool      `json:"ready"`
	At     time.Time `json:"at"`
	// Serving is set after a failover: the question is then no longer
	// whether one is possible.
	Serving *Serving `json:"serving,omitempty"`
	// PrimaryUnreachable is set when a call to the primary region got no
	// answer from AWS at all, as in a regional outage.
	PrimaryUnreachable bool     `json:"primary_unreachable,omitempty"`
	Checks             []Check  `json:"checks"`
	Warnings           []string `json:"warnings,omitempty"`
	// Engines is each database's copy engine and why.
	Engines []Engine `json:"engines,omitempty"`
	// Jobs is each resource's newest protect job, with phase and age.
	Jobs []Job `json:"jobs,omitempty"`
}

type replicationAPI interface {
	GetBucketReplication(context.Context, *s3.GetBucketReplicationInput, ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error)
}

// Evaluate checks every condition; store may be nil (no verify or drill
// history then).
func Evaluate(ctx context.Context, env *awsenv.Env, cfg *spec.Config, store state.Store, now time.Time) *Status {
	st := &Status{Stack: cfg.Stack, Region: cfg.DR.Region, At: now.UTC(), Warnings: cfg.Warnings()}
	add := func(resource, name string, ok bool, format string, args ...any) {
		st.Checks = append(st.Checks, Check{Resource: resource, Name: name, Ready: ok, Detail: fmt.Sprintf(format, args...)})
	}
	warn := func(resource, name, format string, args ...any) {
		st.Checks = append(st.Checks, Check{Resource: resource, Name: name, Ready: true, Warn: true, Detail: fmt.Sprintf(format, args...)})
	}
	k := kms.NewFromConfig(env.For(cfg.DR.Region))
	st.Engines = Engines(ctx, env, cfg, store)
	jobs, err := Jobs(ctx, store, cfg.Stack, now)
	if err != nil {
		st.Warnings = append(st.Warnings, err.Error())
	}
	st.Jobs = jobs
	// A running job is not a readiness problem (the RPO check judges the
	// newest finished copy); it is shown so that an operator sees a copy
	// of hours under way. A failed one is a warning.
	jobCheck := func(resource string) {
		for _, j := range jobs {
			switch {
			case j.Resource != resource || j.Phase == points.PhaseDone:
			case j.Phase == points.PhaseFailed:
				warn(resource, "protect job", "%s", j.Describe())
			default:
				add(resource, "protect job", true, "%s", j.Describe())
			}
		}
	}
	for i, d := range cfg.Protect.Databases {
		pointCheck(ctx, env, cfg, d.ID, d.TargetRPO.D, now, add)
		add(d.ID, "copy engine", true, "%s: %s", st.Engines[i].Engine, st.Engines[i].Why)
		jobCheck(d.ID)
		if d.DRKMSKey != "" {
			keyCheck(ctx, k, cfg.DR.Region, d.ID, d.DRKMSKey, add)
		}
	}
	for _, im := range cfg.Protect.Images {
		pointCheck(ctx, env, cfg, im.Name, im.TargetRPO.D, now, add)
		jobCheck(im.Name)
		if im.DRKMSKey != "" {
			keyCheck(ctx, k, cfg.DR.Region, im.Name, im.DRKMSKey, add)
		}
	}
	src := env.S3(cfg.Primary.Region, 0)
	for _, b := range cfg.Protect.Buckets {
		if !replicationCheck(ctx, src, cfg, b, add, warn) {
			st.PrimaryUnreachable = true
		}
		verifyCheck(ctx, store, b, now, add)
	}
	if st.PrimaryUnreachable {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the primary region %s does not answer: what needs it is unknown, not failed; the DR region answers for the rest", cfg.Primary.Region))
	}
	missing, err := recovery.MissingNetwork(ctx, env, cfg)
	switch {
	case err != nil:
		add("network", "DR network baseline", false, "%v", err)
	case len(missing) > 0:
		add("network", "DR network baseline", false, "missing in %s: %s (run `pilotlight prepare`)", cfg.DR.Region, strings.Join(missing, ", "))
	default:
		add("network", "DR network baseline", true, "complete in %s", cfg.DR.Region)
	}
	// The app reads its secrets at boot in the DR region: a missing or
	// stale copy there is a failover that boots an app that cannot log in.
	if names := secrets.Parameters(cfg); len(names) > 0 {
		problems := secrets.Check(ctx, env, cfg)
		bad := map[string]bool{}
		for _, p := range problems {
			bad[p.Name] = true
			if p.Region == cfg.Primary.Region {
				// The DR copy is there; only the comparison needs the
				// primary, which may be the region that failed.
				warn(p.Name, "secret current in DR", "%s", p.String())
				continue
			}
			add(p.Name, "secret current in DR", false, "%s", p.String())
		}
		for _, p := range names {
			if !bad[p.Name] {
				add(p.Name, "secret current in DR", true, "copy in %s holds the primary's version", cfg.DR.Region)
			}
		}
	}
	drillCheck(ctx, store, add, warn)
	st.Checks = append(st.Checks, AlarmCheck(ctx, cloudwatch.NewFromConfig(env.For(cfg.DR.Region)), cfg))
	st.Ready = true
	for _, c := range st.Checks {
		st.Ready = st.Ready && c.Ready
	}
	if store != nil {
		serving, err := ServingFrom(ctx, store, cfg)
		if err != nil {
			st.Warnings = append(st.Warnings, err.Error())
		}
		st.Serving = serving
	}
	return st
}

// ServingFrom reads the operation records: the stack serves from the DR
// region when its newest failover is newer than any completed failback and
// any completed teardown of a failover. A failover that has not completed
// is returned too, with its phase: the stack is between regions. nil when
// no failover stands.
func ServingFrom(ctx context.Context, store state.Store, cfg *spec.Config) (*Serving, error) {
	recs, err := operation.List(ctx, store, cfg.Stack)
	if err != nil {
		return nil, fmt.Errorf("read the operation records: %w", err)
	}
	// Newest first: the first failover, completed failback or completed
	// failover teardown decides.
	for _, r := range recs {
		if r.DryRun {
			continue
		}
		switch {
		case r.Kind == operation.KindFailover:
			since := r.End
			if since.IsZero() || r.Phase != operation.PhaseCompleted {
				since = r.Start
			}
			return &Serving{Region: cfg.DR.Region, Since: since.UTC(), Operation: r.ID, Phase: r.Phase}, nil
		case r.Phase != operation.PhaseCompleted:
			continue
		case r.Kind == operation.KindFailback,
			r.Kind == operation.KindTeardown && r.Meta["of"] == string(operation.KindFailover):
			return nil, nil
		}
	}
	return nil, nil
}

func pointCheck(ctx context.Context, env *awsenv.Env, cfg *spec.Config, resource string, target time.Duration, now time.Time, add func(string, string, bool, string, ...any)) {
	p, err := points.NewestDR(ctx, env, cfg, resource)
	if err != nil {
		add(resource, "DR copy present", false, "no complete copy in %s: %v", cfg.DR.Region, err)
		return
	}
	add(resource, "DR copy present", true, "%s", p.ID)
	age := now.Sub(p.Created).Round(time.Second)
	if !points.OverRPO(age, target) {
		add(resource, "RPO within target", true, "newest DR copy is %s old, target %s", age, target)
		return
	}
	add(resource, "RPO within target", false, "newest DR copy is %s old: %s over the %s target", age, (age - target).Round(time.Second), target)
}

func keyCheck(ctx context.Context, k points.KeyDescriber, region, resource, key string, add func(string, string, bool, string, ...any)) {
	arn, err := points.ResolveDRKey(ctx, k, key, region)
	if err != nil {
		add(resource, "DR KMS key usable", false, "%v", err)
		return
	}
	add(resource, "DR KMS key usable", true, "%s enabled in %s", orKey(arn, key), region)
}

func orKey(arn, key string) string {
	if arn == "" {
		return key
	}
	return arn
}

// replicationCheck reads the source bucket's rule in the primary region;
// it returns false when that region did not answer, so the operator is not
// sent to run `replicate setup` against a region that is down.
func replicationCheck(ctx context.Context, src replicationAPI, cfg *spec.Config, b spec.Bucket, add func(string, string, bool, string, ...any), warn func(string, string, string, ...any)) bool {
	out, err := src.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(b.Source)})
	if err != nil {
		var api smithy.APIError
		if !errors.As(err, &api) {
			warn(b.Name, "replication rule enabled", "unknown: %s does not answer (%v); a failover uses the replica %s in %s as it is",
				cfg.Primary.Region, err, b.Replica, cfg.DR.Region)
			return false
		}
		add(b.Name, "replication rule enabled", false, "%s: %v (run `pilotlight replicate setup`)", b.Source, err)
		return true
	}
	for _, r := range out.ReplicationConfiguration.Rules {
		if r.Status == s3types.ReplicationRuleStatusEnabled && r.Destination != nil && strings.HasSuffix(aws.ToString(r.Destination.Bucket), ":"+b.Replica) {
			add(b.Name, "replication rule enabled", true, "%s -> %s (%s)", b.Source, b.Replica, aws.ToString(r.ID))
			return true
		}
	}
	add(b.Name, "replication rule enabled", false, "no enabled rule on %s replicates to %s (run `pilotlight replicate setup`)", b.Source, b.Replica)
	return true
}

func verifyCheck(ctx context.Context, store state.Store, b spec.Bucket, now time.Time, add func(string, string, bool, string, ...any)) {
	if store == nil {
		return
	}
	data, err := store.Get(ctx, operation.VerifyKey(b.Name))
	if err != nil {
		add(b.Name, "last verify converged", false, "no verify recorded (run `pilotlight replicate verify` or `pilotlight serve`)")
		return
	}
	var v s3sync.VerifyResult
	if err := json.Unmarshal(data, &v); err != nil {
		add(b.Name, "last verify converged", false, "unreadable verify record: %v", err)
		return
	}
	add(b.Name, "last verify converged", v.Converged, "%d source objects, %d missing, %d different, %d pending",
		v.SourceObjects, v.MissingCount, v.DifferentCount, v.Pending)
}

// drillCheck fails on a failed last drill; before the first one, the stack
// is ready with a warning: nothing is broken, only unproven.
func drillCheck(ctx context.Context, store state.Store, add func(string, string, bool, string, ...any), warn func(string, string, string, ...any)) {
	if store == nil {
		return
	}
	ids, err := operation.ReportIDs(ctx, store, operation.KindDrill)
	if err != nil {
		add("drill", "last drill passed", false, "cannot list drill reports: %v", err)
		return
	}
	if len(ids) == 0 {
		warn("drill", "last drill passed", "no drill has proven the plan yet: rehearse with `pilotlight drill`")
		return
	}
	for i := len(ids) - 1; i >= 0; i-- {
		d, err := operation.LoadReport(ctx, store, ids[i])
		if err != nil {
			continue
		}
		add("drill", "last drill passed", d.Passed, "%s on %s", d.Report.RunID, d.Report.Start.UTC().Format(time.RFC3339))
		return
	}
	add("drill", "last drill passed", false, "no readable drill report")
}

// AlarmsAPI is the CloudWatch call the alarm check makes.
type AlarmsAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// AlarmCheck says whether the alarms `deploy` makes exist in the DR
// region and which are firing. Missing alarms are a warning, not a reason
// a failover would fail: they are how an operator hears of a growing RPO.
func AlarmCheck(ctx context.Context, cw AlarmsAPI, cfg *spec.Config) Check {
	c := Check{Resource: "alarms", Name: "RPO and failure alarms", Ready: true}
	want, err := deploy.Alarms(cfg)
	if err != nil {
		c.Warn, c.Detail = true, err.Error()
		return c
	}
	have, err := deploy.ExistingAlarms(ctx, cw, cfg.Stack, cfg.DR.Region)
	if err != nil {
		c.Warn, c.Detail = true, fmt.Sprintf("unknown: %v", err)
		return c
	}
	var missing, firing []string
	for _, a := range want {
		cur, ok := have[a.Name]
		switch {
		case !ok:
			missing = append(missing, a.Name)
		case cur.StateValue == cwtypes.StateValueAlarm:
			firing = append(firing, a.Name)
		}
	}
	switch {
	case len(missing) == len(want):
		c.Warn, c.Detail = true, fmt.Sprintf("none in %s: nobody is told when the RPO grows (run `pilotlight deploy`)", cfg.DR.Region)
	case len(missing) > 0:
		c.Warn, c.Detail = true, fmt.Sprintf("%d of %d missing in %s: %s (run `pilotlight deploy`)", len(missing), len(want), cfg.DR.Region, strings.Join(missing, ", "))
	case len(firing) > 0:
		c.Warn, c.Detail = true, fmt.Sprintf("%d in %s, firing: %s", len(want), cfg.DR.Region, strings.Join(firing, ", "))
	default:
		c.Detail = fmt.Sprintf("%d in %s, none firing", len(want), cfg.DR.Region)
	}
	return c
}
