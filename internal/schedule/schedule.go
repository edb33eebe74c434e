// Package schedule computes when a protected resource is due next, from the
// schedules spec has already parsed and validated: durations and rate()
// expressions (a fixed interval after the last run) and EventBridge cron()
// expressions (wall-clock times, UTC unless a location is given). It
// computes times only; it neither sleeps nor runs anything.
package schedule

import (
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/schedule/cron"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// Schedule is a compiled spec.Schedule.
type Schedule struct {
	raw      string
	interval time.Duration
	cron     *cron.Expr
	loc      *time.Location
}

// Compile prepares s for Next. loc is the time zone of cron expressions
// (EventBridge Scheduler's ScheduleExpressionTimezone); nil means UTC.
func Compile(s spec.Schedule, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	out := &Schedule{raw: s.Raw, loc: loc}
	switch {
	case s.Cron != nil:
		c, err := cron.Parse(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s.Raw, err)
		}
		out.cron = c
	case s.Interval > 0:
		out.interval = s.Interval
	default:
		return nil, fmt.Errorf("schedule %q: neither an interval nor a cron expression", s.Raw)
	}
	return out, nil
}

// String is the schedule as written in the config.
func (s *Schedule) String() string { return s.raw }

// Interval is the fixed interval of a duration or rate() schedule, 0 for cron.
func (s *Schedule) Interval() time.Duration { return s.interval }

// IsCron reports whether the schedule is a cron() expression.
func (s *Schedule) IsCron() bool { return s.cron != nil }

// Next returns the first time strictly after t at which the schedule fires,
// or the zero time when a cron expression never fires again (its years are
// over). An interval schedule fires t+interval: t is the last run's start.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.cron == nil {
		return t.Add(s.interval)
	}
	return s.cron.Next(t.In(s.loc))
}

// Period is a typical gap between two runs: the interval, or for cron the
// gap between the next two fire times after t. Jitter is bounded by it.
func (s *Schedule) Period(t time.Time) time.Duration {
	if s.cron == nil {
		return s.interval
	}
	a := s.Next(t)
	if a.IsZero() {
		return 0
	}
	b := s.Next(a)
	if b.IsZero() {
		return 0
	}
	return b.Sub(a)
}
