package recovery

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/s3sync"
)

// Verify checks what a drill (or failover) built against what a recovery
// promises: each kind in use checks its own, and the buckets last. Each
// check says what it saw, so a failed one is actionable. It reads the DR
// region, and the primary only for the bucket comparison.
func (r *Recovery) Verify(ctx context.Context, j *runbook.Journal, now time.Time) []report.Check {
	cfg := r.cfg
	out := outputsOfJournal(j)
	var checks []report.Check
	for _, k := range registry {
		if v, ok := k.(verifier); ok && k.Used(r) {
			checks = append(checks, v.Verify(ctx, r, out, now)...)
		}
	}
	add := func(name string, pass bool, format string, args ...any) {
		checks = append(checks, check(name, pass, format, args...))
	}
	for _, b := range cfg.Protect.Buckets {
		if r.opts.Kind == KindFailover {
			// After a real failover the source may be gone: check what the
			// recovered app will read, and call nothing in the primary.
			out, err := r.env.S3(cfg.DR.Region, 0).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Replica), MaxKeys: aws.Int32(1)})
			add("replica "+b.Replica+" readable in "+cfg.DR.Region, err == nil && aws.ToInt32(out.KeyCount) > 0,
				"source not compared: failover never calls the primary region (%v)", errText(err))
			continue
		}
		res, err := s3sync.Verify(ctx, r.env, cfg, b)
		switch {
		case err != nil:
			add("replica "+b.Replica+" converged", false, "%v", err)
		default:
			add("replica "+b.Replica+" converged", res.Converged, "%d source objects, %d missing, %d extra, %d different",
				res.SourceObjects, len(res.Missing), len(res.Extra), len(res.Different))
		}
	}
	return checks
}

func check(name string, pass bool, format string, args ...any) report.Check {
	return report.Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, args...)}
}

// rpoCheck compares a point's age with its target and says by how much it
// misses.
func rpoCheck(name, pointTime string, target time.Duration, now time.Time) report.Check {
	t, err := time.Parse(time.RFC3339, pointTime)
	if err != nil || target == 0 {
		return report.Check{Name: name, Pass: false, Detail: "no point time recorded"}
	}
	age := now.Sub(t).Round(time.Second)
	if age <= target {
		return report.Check{Name: name, Pass: true, Detail: fmt.Sprintf("newest DR copy is %s old, target %s", age, target)}
	}
	return report.Check{Name: name, Pass: false,
		Detail: fmt.Sprintf("newest DR copy is %s old: %s over the %s target", age, (age - target).Round(time.Second), target)}
}

func errText(err error) string {
	if err != nil {
		return err.Error()
	}
	return "objects present"
}
