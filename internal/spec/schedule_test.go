package spec

import (
	"strings"
	"testing"
	"time"
)

// M4: schedules validate accepted and deploy or serve later refused, ran
// every nanosecond, or rewrote. Each is a problem on its own line.
func TestSchedulesEventBridgeWouldRefuse(t *testing.T) {
	for every, want := range map[string]string{
		"0d":                             "must be positive",
		"0w":                             "must be positive",
		"1ns":                            "shorter than a minute",
		"1s":                             "shorter than a minute",
		"59s":                            "shorter than a minute",
		"90s":                            "not a whole number of minutes",
		"106752d":                        "longer than 365 days",
		"366d":                           "longer than 365 days",
		"53w":                            "longer than 365 days",
		"99999999999999999999d":          "longer than 365 days",
		"9000h":                          "longer than 365 days",
		"rate(200000 days)":              "longer than 365 days",
		"rate(9999999999999999999 days)": "longer than 365 days",
		"rate(0 minutes)":                "at least 1",
		"cron(99 99 99 99 ? 99)":         "minutes: 99 is outside 0-59",
		"cron(0 24 * * ? *)":             "hours: 24 is outside 0-23",
		"cron(0 0 32 * ? *)":             "day-of-month: 32 is outside 1-31",
		"cron(0 0 * 13 ? *)":             "month: 13 is outside 1-12",
		"cron(0 0 ? * 8 *)":              "day-of-week: 8 is outside 1-7",
		"cron(0 0 * * ? 2200)":           "year: 2200 is outside 1970-2199",
		"cron(0 0 ? * 3#1,6#3 *)":        "holds one value",
		"cron(0 0 * * * *)":              "exactly one of day-of-month and day-of-week",
	} {
		t.Run(every, func(t *testing.T) {
			src := strings.Replace(validBase, "every: 2h", "every: '"+every+"'", 1)
			_, err := Parse("p.yaml", []byte(src))
			ps, ok := AsProblems(err)
			if !ok || len(ps) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if p := ps[0]; p.Line != 7 || p.Field != "protect.databases[0].every" || !strings.Contains(p.Why, want) {
				t.Fatalf("want p.yaml:7: protect.databases[0].every: ...%s, got %s", want, p)
			}
		})
	}
	for _, every := range []string{"1m", "90m", "365d", "52w", "rate(1 minute)", "rate(365 days)", "cron(0/30 8-9 ? * SUN *)", "cron(0 9 ? * 2#1 2199)"} {
		src := strings.Replace(validBase, "every: 2h", "every: '"+every+"'", 1)
		if _, err := Parse("p.yaml", []byte(src)); err != nil {
			t.Errorf("%s: %v", every, err)
		}
	}
}

// Durations too: 0d slipped past the positive check and 106752d overflowed.
func TestDurationBounds(t *testing.T) {
	for _, raw := range []string{"0d", "0w", "106752d", "99999999999999999999d", "-7d", "0s", "3651d", "2562048h"} {
		if d, err := ParseDuration(raw); err == nil {
			t.Errorf("%s accepted as %v", raw, d)
		}
	}
	// Retention may be longer than a schedule may: two years of copies.
	if d, err := ParseDuration("730d"); err != nil || d != 730*24*time.Hour {
		t.Errorf("730d: %v %v", d, err)
	}
}

// deploy writes Expression(); it must be the schedule as written, never a
// rounded one: what used to become rate(1 minute) is now an error.
func TestExpressionNeverRounds(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, time.Second, 90 * time.Second, 0} {
		if e, err := RateExpression(d); err == nil {
			t.Errorf("%v: rounded to %s", d, e)
		}
		s := Schedule{Raw: d.String(), Interval: d}
		if _, err := s.EventBridgeExpression(); err == nil {
			t.Errorf("%v: EventBridgeExpression has no error", d)
		}
		if e := s.Expression(); strings.HasPrefix(e, "rate(") {
			t.Errorf("%v: Expression rewrote it to %s", d, e)
		}
	}
}

func TestShortIntervalsForTests(t *testing.T) {
	if _, err := ParseSchedule("2s"); err == nil {
		t.Fatal("2s accepted")
	}
	restore := ShortIntervalsForTests(time.Second)
	s, err := ParseSchedule("2s")
	restore()
	if err != nil || s.Interval != 2*time.Second {
		t.Fatalf("2s with the test floor: %v %v", s, err)
	}
	if _, err := ParseSchedule("2s"); err == nil {
		t.Fatal("floor not restored")
	}
}
