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
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/s3sync"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/state"
)

// Check is one readiness condition.
type Check struct {
	Resource string `json:"resource"`
	Name     string `json:"name"`
	Ready    bool   `json:"ready"`
	Detail   string `json:"detail"`
}

// Status is the whole answer.
type Status struct {
	Stack    string    `json:"stack"`
	Region   string    `json:"dr_region"`
	Ready    bool      `json:"ready"`
	At       time.Time `json:"at"`
	Checks   []Check   `json:"checks"`
	Warnings []string  `json:"warnings,omitempty"`
}

type kmsAPI interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
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
	k := kms.NewFromConfig(env.For(cfg.DR.Region))
	for _, d := range cfg.Protect.Databases {
		pointCheck(ctx, env, cfg, d.ID, d.TargetRPO.D, now, add)
		if d.DRKMSKey != "" {
			keyCheck(ctx, k, cfg.DR.Region, d.ID, d.DRKMSKey, add)
		}
	}
	for _, im := range cfg.Protect.Images {
		pointCheck(ctx, env, cfg, im.Name, im.TargetRPO.D, now, add)
		if im.DRKMSKey != "" {
			keyCheck(ctx, k, cfg.DR.Region, im.Name, im.DRKMSKey, add)
		}
	}
	src := s3.NewFromConfig(env.For(cfg.Primary.Region), func(o *s3.Options) { o.UsePathStyle = env.EndpointOverridden() })
	for _, b := range cfg.Protect.Buckets {
		replicationCheck(ctx, src, b, add)
		verifyCheck(ctx, store, b, now, add)
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
	drillCheck(ctx, store, add)
	st.Ready = true
	for _, c := range st.Checks {
		st.Ready = st.Ready && c.Ready
	}
	return st
}

func pointCheck(ctx context.Context, env *awsenv.Env, cfg *spec.Config, resource string, target time.Duration, now time.Time, add func(string, string, bool, string, ...any)) {
	p, err := points.NewestDR(ctx, env, cfg, resource)
	if err != nil {
		add(resource, "DR copy present", false, "no complete copy in %s: %v", cfg.DR.Region, err)
		return
	}
	add(resource, "DR copy present", true, "%s", p.ID)
	age := now.Sub(p.Created).Round(time.Second)
	if age <= target {
		add(resource, "RPO within target", true, "newest DR copy is %s old, target %s", age, target)
		return
	}
	add(resource, "RPO within target", false, "newest DR copy is %s old: %s over the %s target", age, (age - target).Round(time.Second), target)
}

func keyCheck(ctx context.Context, k kmsAPI, region, resource, key string, add func(string, string, bool, string, ...any)) {
	out, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	var nf *kmstypes.NotFoundException
	switch {
	case errors.As(err, &nf):
		add(resource, "DR KMS key usable", false, "%s does not exist in %s", key, region)
	case err != nil:
		add(resource, "DR KMS key usable", false, "describe %s in %s: %v", key, region, err)
	case out.KeyMetadata == nil || !out.KeyMetadata.Enabled || out.KeyMetadata.KeyState != kmstypes.KeyStateEnabled:
		state := kmstypes.KeyState("unknown")
		if out.KeyMetadata != nil {
			state = out.KeyMetadata.KeyState
		}
		add(resource, "DR KMS key usable", false, "%s in %s is %s", key, region, state)
	default:
		add(resource, "DR KMS key usable", true, "%s enabled in %s", key, region)
	}
}

func replicationCheck(ctx context.Context, src replicationAPI, b spec.Bucket, add func(string, string, bool, string, ...any)) {
	out, err := src.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(b.Source)})
	if err != nil {
		add(b.Name, "replication rule enabled", false, "%s: %v (run `pilotlight replicate setup`)", b.Source, err)
		return
	}
	for _, r := range out.ReplicationConfiguration.Rules {
		if r.Status == s3types.ReplicationRuleStatusEnabled && r.Destination != nil && strings.HasSuffix(aws.ToString(r.Destination.Bucket), ":"+b.Replica) {
			add(b.Name, "replication rule enabled", true, "%s -> %s (%s)", b.Source, b.Replica, aws.ToString(r.ID))
			return
		}
	}
	add(b.Name, "replication rule enabled", false, "no enabled rule on %s replicates to %s", b.Source, b.Replica)
}

// verifyKey is where serve and `replicate verify` record the last result.
func verifyKey(bucket string) string { return "verify/" + bucket + ".json" }

func verifyCheck(ctx context.Context, store state.Store, b spec.Bucket, now time.Time, add func(string, string, bool, string, ...any)) {
	if store == nil {
		return
	}
	data, err := store.Get(ctx, verifyKey(b.Name))
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

func drillCheck(ctx context.Context, store state.Store, add func(string, string, bool, string, ...any)) {
	if store == nil {
		return
	}
	keys, err := store.List(ctx, "reports/drill-")
	if err != nil || len(keys) == 0 {
		add("drill", "last drill passed", false, "no drill recorded: rehearse with `pilotlight drill`")
		return
	}
	sort.Strings(keys)
	for i := len(keys) - 1; i >= 0; i-- {
		if !strings.HasSuffix(keys[i], "/report.json") {
			continue
		}
		data, err := store.Get(ctx, keys[i])
		if err != nil {
			continue
		}
		var d struct {
			Passed bool `json:"passed"`
			Report struct {
				RunID string    `json:"run_id"`
				Start time.Time `json:"start"`
			} `json:"report"`
		}
		if json.Unmarshal(data, &d) != nil {
			continue
		}
		add("drill", "last drill passed", d.Passed, "%s on %s", d.Report.RunID, d.Report.Start.UTC().Format(time.RFC3339))
		return
	}
	add("drill", "last drill passed", false, "no readable drill report")
}
