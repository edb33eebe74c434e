// Package serve runs the protect plane unattended: a scheduler daemon that
// runs each protected resource on its own schedule (never twice at once,
// with bounded seeded jitter, finishing or recording in-flight work on
// shutdown), Prometheus metrics, /healthz and a status page, and the Lambda
// handler for EventBridge Scheduler events. The work itself is done by
// packages points and s3sync; serve only decides when, and records what
// happened in the state store.
package serve

import (
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/schedule"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Kinds of job.
const (
	KindDatabase = "database"
	KindImage    = "image"
	KindBucket   = "bucket"
)

// Job is one protected resource and its schedule.
type Job struct {
	Resource string
	Kind     string
	Schedule *schedule.Schedule
	// TargetRPO is the age of the newest DR point beyond which the status
	// page shows the resource as late (0 for buckets).
	TargetRPO time.Duration
}

// Jobs lists every protected resource of cfg with its compiled schedule,
// databases first, then images, then buckets, as the config lists them.
// loc is the time zone of cron expressions (nil: UTC).
func Jobs(cfg *spec.Config, loc *time.Location) ([]Job, error) {
	var out []Job
	add := func(name, kind string, s spec.Schedule, rpo time.Duration) error {
		c, err := schedule.Compile(s, loc)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, name, err)
		}
		out = append(out, Job{Resource: name, Kind: kind, Schedule: c, TargetRPO: rpo})
		return nil
	}
	for _, d := range cfg.Protect.Databases {
		if err := add(d.ID, KindDatabase, d.Every, d.TargetRPO.D); err != nil {
			return nil, err
		}
	}
	for _, im := range cfg.Protect.Images {
		if err := add(im.Name, KindImage, im.Every, im.TargetRPO.D); err != nil {
			return nil, err
		}
	}
	for _, b := range cfg.Protect.Buckets {
		if err := add(b.Name, KindBucket, b.Every, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Select keeps the jobs named in only, with spec.Config.Select's
// semantics: all when only is empty, otherwise the named ones once each in
// the order given, and every unknown name in one error naming the known
// ones. It works on jobs rather than the config because the Lambda picks
// from the jobs of one action.
func Select(jobs []Job, only []string) ([]Job, error) {
	if len(only) == 0 {
		return jobs, nil
	}
	byName := map[string]Job{}
	var names []string
	for _, j := range jobs {
		byName[j.Resource] = j
		names = append(names, j.Resource)
	}
	var out []Job
	var bad []string
	seen := map[string]bool{}
	for _, n := range only {
		j, ok := byName[n]
		switch {
		case !ok:
			bad = append(bad, n)
		case !seen[n]:
			seen[n] = true
			out = append(out, j)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("--only %s: not a protected resource (have %s)", strings.Join(bad, ", "), strings.Join(names, ", "))
	}
	return out, nil
}
