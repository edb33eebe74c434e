package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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

// ParseDuration parses Go durations plus whole days (d) and weeks (w).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := dayWeek.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (want e.g. 30m, 2h, 7d)")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
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

// Expression is the EventBridge Scheduler form of the schedule.
func (s Schedule) Expression() string {
	if s.Cron != nil || strings.HasPrefix(s.Raw, "rate(") {
		return s.Raw
	}
	return RateExpression(s.Interval)
}

// RateExpression writes an interval as EventBridge's rate(): the largest
// whole unit that divides it.
func RateExpression(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return rate(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return rate(int(d/time.Hour), "hour")
	default:
		m := int(d / time.Minute)
		if m < 1 {
			m = 1
		}
		return rate(m, "minute")
	}
}

func rate(n int, unit string) string {
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
		n, _ := strconv.Atoi(m[1])
		if n < 1 {
			return s, fmt.Errorf("rate must be at least 1")
		}
		if (n == 1) != !strings.HasSuffix(m[2], "s") {
			return s, fmt.Errorf("rate unit must be singular for 1 and plural otherwise, as EventBridge requires")
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
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
		d, err := ParseDuration(raw)
		if err != nil {
			return s, fmt.Errorf("not a schedule (want 2h, rate(2 hours) or cron(0 */2 * * ? *))")
		}
		s.Interval = d
		return s, nil
	}
}

var cronField = regexp.MustCompile(`^[0-9A-Za-z*?/,\-LW#]+$`)

// checkCron applies EventBridge's rules: six fields, and exactly one of
// day-of-month and day-of-week is '?'.
func checkCron(f []string) error {
	if len(f) != 6 {
		return fmt.Errorf("cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	for _, x := range f {
		if !cronField.MatchString(x) {
			return fmt.Errorf("cron field %q has characters EventBridge does not accept", x)
		}
	}
	if (f[2] == "?") == (f[4] == "?") {
		return fmt.Errorf("cron: exactly one of day-of-month and day-of-week must be '?'")
	}
	return nil
}
