package schedule

import (
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

func compile(t *testing.T, raw string) *Schedule {
	t.Helper()
	s, err := spec.ParseSchedule(raw)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	c, err := Compile(s, nil)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return c
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestIntervals(t *testing.T) {
	base := at("2026-03-01 10:17")
	for raw, want := range map[string]time.Duration{
		"2h": 2 * time.Hour, "90m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1m": time.Minute,
		"rate(1 minute)": time.Minute, "rate(2 hours)": 2 * time.Hour, "rate(3 days)": 72 * time.Hour,
	} {
		s := compile(t, raw)
		if got := s.Next(base); !got.Equal(base.Add(want)) || s.IsCron() || s.Period(base) != want {
			t.Errorf("%s: next %v period %v", raw, got, s.Period(base))
		}
	}
}

func TestCronNext(t *testing.T) {
	cases := []struct{ expr, after, want string }{
		{"cron(0 */2 * * ? *)", "2026-03-01 10:17", "2026-03-01 12:00"},
		{"cron(0 */2 * * ? *)", "2026-03-01 12:00", "2026-03-01 14:00"}, // strictly after
		{"cron(15 10 * * ? *)", "2026-03-01 10:15", "2026-03-02 10:15"},
		{"cron(0 18 ? * MON-FRI *)", "2026-03-06 18:00", "2026-03-09 18:00"}, // Fri -> Mon
		{"cron(0 8 1 * ? *)", "2026-01-31 09:00", "2026-02-01 08:00"},
		{"cron(0 0 L * ? *)", "2026-02-01 00:00", "2026-02-28 00:00"},
		{"cron(0 0 L * ? *)", "2028-02-01 00:00", "2028-02-29 00:00"},   // leap year
		{"cron(0 0 LW * ? *)", "2026-05-01 00:00", "2026-05-29 00:00"},  // May 31 2026 is a Sunday
		{"cron(0 0 15W * ? *)", "2026-08-01 00:00", "2026-08-14 00:00"}, // Aug 15 2026 is a Saturday
		{"cron(0 0 1W * ? *)", "2026-07-31 00:00", "2026-08-03 00:00"},  // Aug 1 2026 Saturday -> Monday 3rd
		{"cron(0 9 ? * 2#1 *)", "2026-03-01 00:00", "2026-03-02 09:00"}, // first Monday
		{"cron(0 9 ? * 6L *)", "2026-03-01 00:00", "2026-03-27 09:00"},  // last Friday
		{"cron(0 9 ? * L *)", "2026-03-01 00:00", "2026-03-07 09:00"},   // L alone: Saturday
		{"cron(0/30 8-9 ? * SUN *)", "2026-03-01 08:40", "2026-03-01 09:00"},
		{"cron(5,35 * * JAN,JUL ? 2027)", "2026-03-01 00:00", "2027-01-01 00:05"},
		{"cron(0 12 29 FEB ? *)", "2026-03-01 00:00", "2028-02-29 12:00"},
		{"cron(0 0 1 1 ? 2025)", "2026-03-01 00:00", ""}, // over
	}
	for _, c := range cases {
		got := compile(t, c.expr).Next(at(c.after))
		if c.want == "" {
			if !got.IsZero() {
				t.Errorf("%s after %s: got %v, want never", c.expr, c.after, got)
			}
			continue
		}
		if !got.Equal(at(c.want)) {
			t.Errorf("%s after %s: got %v, want %s", c.expr, c.after, got, c.want)
		}
	}
}

func TestCronTimeZone(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s, _ := spec.ParseSchedule("cron(0 2 * * ? *)")
	c, err := Compile(s, sh)
	if err != nil {
		t.Fatal(err)
	}
	// 02:00 in Beijing is 18:00 UTC the day before.
	if got := c.Next(at("2026-03-01 00:00")).UTC(); !got.Equal(at("2026-03-01 18:00")) {
		t.Fatal(got)
	}
}

func TestCronPeriod(t *testing.T) {
	if p := compile(t, "cron(0 */6 * * ? *)").Period(at("2026-03-01 00:00")); p != 6*time.Hour {
		t.Fatal(p)
	}
}

func TestCompileRejects(t *testing.T) {
	for _, f := range [][]string{
		{"61", "*", "*", "*", "?", "*"},
		{"0", "24", "*", "*", "?", "*"},
		{"0", "0", "32", "*", "?", "*"},
		{"0", "0", "*", "13", "?", "*"},
		{"0", "0", "?", "*", "8", "*"},
		{"0", "0", "?", "*", "2#6", "*"},
		{"0", "0", "*", "*", "?", "1969"},
		{"5-1", "0", "*", "*", "?", "*"},
		{"*/0", "0", "*", "*", "?", "*"},
		{"0", "0", "*", "*", "*", "*"},
	} {
		if _, err := Compile(spec.Schedule{Raw: "x", Cron: f}, nil); err == nil {
			t.Errorf("%v accepted", f)
		}
	}
	if _, err := Compile(spec.Schedule{Raw: "x"}, nil); err == nil {
		t.Error("empty schedule accepted")
	}
}

// FuzzCron: whatever spec accepts, Compile either rejects or yields a Next
// that is strictly later and matches on a second look.
func FuzzCron(f *testing.F) {
	for _, s := range []string{"cron(0 */2 * * ? *)", "cron(0 9 ? * 6L *)", "cron(0 0 LW * ? *)", "cron(5,35 * * JAN,JUL ? 2027)"} {
		f.Add(s)
	}
	base := at("2026-03-01 10:17")
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := spec.ParseSchedule(raw)
		if err != nil || s.Cron == nil {
			return
		}
		c, err := Compile(s, nil)
		if err != nil {
			return
		}
		n := c.Next(base)
		if n.IsZero() {
			return
		}
		if !n.After(base) || n.Second() != 0 {
			t.Fatalf("%s: next %v not after %v", raw, n, base)
		}
		if again := c.Next(n.Add(-time.Minute)); !again.Equal(n) {
			t.Fatalf("%s: next from a minute before %v is %v", raw, n, again)
		}
	})
}
