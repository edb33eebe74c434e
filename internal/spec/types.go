package spec

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pilotlight/pilotlight/internal/schedule/cron"
)

// Duration is a length of time written as Go does ("90m", "2h") or in days
// and weeks ("7d", "2w"). It keeps its text so that validation, not
// decoding, reports a bad value with its line.
type Duration struct {
	Raw string
	D   time.Duration
}

// UnmarshalYAML keeps the raw text; parsing happens in validation.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	d.Raw = n.Value
	d.D, _ = ParseDuration(n.Value)
	return nil
}

// MarshalYAML writes the raw text back.
func (d Duration) MarshalYAML() (any, error) { return d.Raw, nil }

// IsZero reports whether the duration was not set.
func (d Duration) IsZero() bool { return d.Raw == "" }

var dayWeek = regexp.MustCompile(`^(\d+)([dw])$`)

// maxInterval bounds schedules. AWS documents no maximum rate value
// (EventBridge Scheduler: "a positive number"), so this is pilotlight's
// own bound: a pilot light whose newest copy may be more than a year old
// is not one, and arithmetic on intervals (the default target RPO is twice
// the interval) must stay far from time.Duration's limit of 292 years.
const maxInterval = 365 * 24 * time.Hour

// maxDuration bounds other durations (max_age, target_rpo): retention may
// well be years, but not past what time.Duration holds.
const maxDuration = 10 * 365 * 24 * time.Hour

// ParseDuration parses Go durations plus whole days (d) and weeks (w),
// positive and at most ten years.
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s, maxDuration) }

func parseDuration(s string, most time.Duration) (time.Duration, error) {
	tooLong := fmt.Errorf("longer than %d days", most/(24*time.Hour))
	s = strings.TrimSpace(s)
	var d time.Duration
	if m := dayWeek.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		days := int64(1)
		if m[2] == "w" {
			days = 7
		}
		if err != nil || n > int64(most/(24*time.Hour))/days {
			return 0, tooLong
		}
		d = time.Duration(n*days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("not a duration (want e.g. 30m, 2h, 7d)")
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	if d > most {
		return 0, tooLong
	}
	return d, nil
}

// Schedule is how often a resource is protected: a duration ("2h") or an
// EventBridge expression ("rate(2 hours)", "cron(0 */2 * * ? *)").
type Schedule struct {
	Raw string
	// Interval is set for durations and rate expressions.
	Interval time.Duration
	// Cron holds the six cron fields for cron expressions.
	Cron []string
}

// UnmarshalYAML keeps the raw text; parsing happens in validation.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	s.Raw = n.Value
	if p, err := ParseSchedule(n.Value); err == nil {
		*s = p
	}
	return nil
}

// MarshalYAML writes the raw text back.
func (s Schedule) MarshalYAML() (any, error) { return s.Raw, nil }

// IsZero reports whether no schedule was set.
func (s Schedule) IsZero() bool { return s.Raw == "" }

// Expression is the EventBridge Scheduler form of the schedule. A schedule
// that has none (not whole minutes; only a hand-built one can be) comes
// back as written, for Scheduler to refuse: never as another schedule.
func (s Schedule) Expression() string {
	e, err := s.EventBridgeExpression()
	if err != nil {
		return s.Raw
	}
	return e
}

// EventBridgeExpression is the EventBridge Scheduler form of the schedule,
// or an error when the schedule cannot be written as one exactly.
func (s Schedule) EventBridgeExpression() (string, error) {
	if s.Cron != nil || strings.HasPrefix(strings.TrimSpace(s.Raw), "rate(") {
		return strings.TrimSpace(s.Raw), nil
	}
	return RateExpression(s.Interval)
}

// RateExpression writes an interval as EventBridge's rate(): the largest
// whole unit that divides it. An interval that is not a whole number of
// minutes, at least one, is an error: rounding it would deploy a schedule
// other than the one written.
func RateExpression(d time.Duration) (string, error) {
	switch {
	case d < time.Minute || d%time.Minute != 0:
		return "", fmt.Errorf("%v is not a whole number of minutes, at least one: EventBridge Scheduler's rate() counts minutes, hours or days", d)
	case d%(24*time.Hour) == 0:
		return rate(int64(d/(24*time.Hour)), "day"), nil
	case d%time.Hour == 0:
		return rate(int64(d/time.Hour), "hour"), nil
	default:
		return rate(int64(d/time.Minute), "minute"), nil
	}
}

func rate(n int64, unit string) string {
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("rate(%d %s)", n, unit)
}

var rateRe = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// ParseSchedule parses a duration, rate() or cron() expression.
func ParseSchedule(raw string) (Schedule, error) {
	s := Schedule{Raw: raw}
	raw = strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(raw, "rate("):
		m := rateRe.FindStringSubmatch(raw)
		if m == nil {
			return s, fmt.Errorf("bad rate expression (want e.g. rate(2 hours))")
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err == nil && n < 1 {
			return s, fmt.Errorf("rate must be at least 1")
		}
		if (n == 1) != !strings.HasSuffix(m[2], "s") {
			return s, fmt.Errorf("rate unit must be singular for 1 and plural otherwise, as EventBridge requires")
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		if err != nil || n > int64(maxInterval/unit) {
			return s, fmt.Errorf("longer than 365 days")
		}
		s.Interval = time.Duration(n) * unit
		return s, nil
	case strings.HasPrefix(raw, "cron("):
		if !strings.HasSuffix(raw, ")") {
			return s, fmt.Errorf("bad cron expression: missing )")
		}
		fields := strings.Fields(raw[len("cron(") : len(raw)-1])
		if err := checkCron(fields); err != nil {
			return s, err
		}
		s.Cron = fields
		return s, nil
	default:
		d, err := parseDuration(raw, maxInterval)
		if err != nil {
			if dayWeek.MatchString(raw) || !strings.Contains(err.Error(), "not a duration") {
				return s, err
			}
			return s, fmt.Errorf("not a schedule (want 2h, rate(2 hours) or cron(0 */2 * * ? *))")
		}
		if err := checkInterval(d); err != nil {
			return s, err
		}
		s.Interval = d
		return s, nil
	}
}

// checkInterval holds a duration schedule to what EventBridge Scheduler
// runs as written: "All schedule types on EventBridge Scheduler invoke
// their targets with 60 second precision" and rate() takes a positive
// whole number of minutes, hours or days (Scheduler User Guide, "Schedule
// types"). So an interval is at least a minute and a whole number of
// minutes; `serve` keeps to the same rule so that it and `deploy` run the
// same schedule.
func checkInterval(d time.Duration) error {
	if d < minInterval() {
		return fmt.Errorf("shorter than a minute: EventBridge Scheduler runs a schedule at most once a minute")
	}
	if d >= time.Minute && d%time.Minute != 0 {
		return fmt.Errorf("not a whole number of minutes: EventBridge Scheduler's rate() counts whole minutes")
	}
	return nil
}

var shortFloor atomic.Int64

func minInterval() time.Duration {
	if d := shortFloor.Load(); d > 0 {
		return time.Duration(d)
	}
	return time.Minute
}

// ShortIntervalsForTests lowers the one-minute floor on duration schedules
// to d so that tests of serve can run several cycles in seconds; it returns
// the function that restores the floor. It panics outside a test binary:
// no config can go below a minute in pilotlight itself.
func ShortIntervalsForTests(d time.Duration) (restore func()) {
	// Not testing.Testing(): importing package testing would link it into
	// the shipped binary. go test names its binaries <pkg>.test.
	if !strings.HasSuffix(os.Args[0], ".test") {
		panic("spec.ShortIntervalsForTests called outside a test binary")
	}
	prev := shortFloor.Swap(int64(d))
	return func() { shortFloor.Store(prev) }
}

// checkCron applies EventBridge's rules (EventBridge User Guide, "Cron
// expressions reference": six fields; minutes 0-59, hours 0-23,
// day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT,
// year 1970-2199; exactly one of the day fields is '?') by parsing with
// the same reader serve computes fire times with.
func checkCron(f []string) error {
	if len(f) != 6 {
		return fmt.Errorf("cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	if _, err := cron.Parse(f); err != nil {
		return fmt.Errorf("cron: %w", err)
	}
	return nil
}
