// Package cron parses EventBridge cron() fields and finds their next fire
// time. It is the one reading of a cron expression: spec validates with
// it and schedule computes with it, so what validate accepts is exactly
// what serve can run.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventBridge's cron has six fields: minutes hours day-of-month month
// day-of-week year. Day-of-week counts 1=SUN..7=SAT; exactly one of the two
// day fields is '?' (spec checks that). Supported beyond lists, ranges and
// steps: L (last day of the month; in day-of-week alone, Saturday), nW (the
// weekday nearest day n, within the month), LW (last weekday), nL in
// day-of-week (last such weekday of the month) and n#k (k-th such weekday).

const (
	minYear = 1970
	maxYear = 2199
)

// Expr is a parsed cron expression.
type Expr struct {
	minutes, hours, months uint64 // bit i set: value i matches
	years                  []bool // index year-minYear
	dom                    domRule
	dow                    dowRule
	domAny                 bool // day-of-month is '?': day-of-week decides
}

// domRule matches a day of a month.
type domRule struct {
	days    uint64 // plain days 1..31
	last    bool   // L
	lastOff int    // L-n: n days before the last day
	weekday []int  // nW
	lastWD  bool   // LW
}

// dowRule matches a day by its weekday.
type dowRule struct {
	days uint64         // plain weekdays, bit = time.Weekday (0=Sunday)
	last []time.Weekday // nL
	nth  []nthWeekday   // n#k
}

type nthWeekday struct {
	wd time.Weekday
	k  int
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// Parse reads the six fields of an EventBridge cron expression, each value
// within the documented ranges.
func Parse(f []string) (*Expr, error) {
	if len(f) != 6 {
		return nil, fmt.Errorf("cron needs 6 fields, got %d", len(f))
	}
	c := &Expr{}
	var err error
	if c.minutes, err = bits(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("minutes: %w", err)
	}
	if c.hours, err = bits(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("hours: %w", err)
	}
	if c.months, err = bits(f[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("month: %w", err)
	}
	yb := make([]bool, maxYear-minYear+1)
	if err := each(f[5], minYear, maxYear, nil, func(v int) { yb[v-minYear] = true }); err != nil {
		return nil, fmt.Errorf("year: %w", err)
	}
	c.years = yb
	switch {
	case f[2] == "?" && f[4] == "?", f[2] != "?" && f[4] != "?":
		return nil, fmt.Errorf("exactly one of day-of-month and day-of-week must be '?'")
	case f[2] == "?":
		c.domAny = true
		if c.dow, err = parseDOW(f[4]); err != nil {
			return nil, fmt.Errorf("day-of-week: %w", err)
		}
	default:
		if c.dom, err = parseDOM(f[2]); err != nil {
			return nil, fmt.Errorf("day-of-month: %w", err)
		}
	}
	return c, nil
}

func parseDOM(s string) (domRule, error) {
	var r domRule
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			r.last = true
		case part == "LW":
			r.lastWD = true
		case strings.HasPrefix(part, "L-"):
			n, err := strconv.Atoi(part[2:])
			if err != nil || n < 1 || n > 30 {
				return r, fmt.Errorf("bad %q", part)
			}
			r.lastOff = n
		case strings.HasSuffix(part, "W"):
			n, err := strconv.Atoi(strings.TrimSuffix(part, "W"))
			if err != nil || n < 1 || n > 31 {
				return r, fmt.Errorf("bad %q", part)
			}
			r.weekday = append(r.weekday, n)
		default:
			b, err := bits(part, 1, 31, nil)
			if err != nil {
				return r, err
			}
			r.days |= b
		}
	}
	return r, nil
}

func parseDOW(s string) (dowRule, error) {
	var r dowRule
	// EventBridge: with '#' the field holds one expression ("3#1,6#3" is
	// refused).
	if strings.Contains(s, "#") && strings.Contains(s, ",") {
		return r, fmt.Errorf("%q: a field with # holds one value, not a list", s)
	}
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			r.days |= 1 << uint(time.Saturday)
		case strings.Contains(part, "#"):
			a, b, _ := strings.Cut(part, "#")
			d, err := value(a, 1, 7, dayNames)
			k, err2 := strconv.Atoi(b)
			if err != nil || err2 != nil || k < 1 || k > 5 {
				return r, fmt.Errorf("bad %q", part)
			}
			r.nth = append(r.nth, nthWeekday{time.Weekday(d - 1), k})
		case len(part) > 1 && strings.HasSuffix(part, "L"):
			d, err := value(strings.TrimSuffix(part, "L"), 1, 7, dayNames)
			if err != nil {
				return r, fmt.Errorf("bad %q", part)
			}
			r.last = append(r.last, time.Weekday(d-1))
		default:
			if err := each(part, 1, 7, dayNames, func(v int) { r.days |= 1 << uint(v-1) }); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// bits parses a list of values, ranges and steps into a bit set.
func bits(s string, lo, hi int, names map[string]int) (uint64, error) {
	var b uint64
	err := each(s, lo, hi, names, func(v int) { b |= 1 << uint(v) })
	return b, err
}

// each calls set for every value s selects: *, n, a-b, with /step on any.
func each(s string, lo, hi int, names map[string]int, set func(int)) error {
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step in %q", part)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = value(x, lo, hi, names); err != nil {
				return err
			}
			if b, err = value(y, lo, hi, names); err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := value(rng, lo, hi, names)
			if err != nil {
				return err
			}
			a = v
			if !hasStep {
				b = v
			}
		}
		for v := a; v <= b; v += step {
			set(v)
		}
	}
	return nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

// Next is the first matching minute strictly after t, in t's location, or
// the zero time when the expression's years are over.
// It skips whole years, months, days and hours that cannot match, so a
// yearly expression costs a few hundred steps, not half a million.
func (c *Expr) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= maxYear {
		y := t.Year()
		if y < minYear || !c.years[y-minYear] {
			t = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if c.months&(1<<uint(t.Month())) == 0 {
			t = time.Date(y, t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(y, t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if c.hours&(1<<uint(t.Hour())) == 0 {
			t = time.Date(y, t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			continue
		}
		if c.minutes&(1<<uint(t.Minute())) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

func (c *Expr) dayMatches(t time.Time) bool {
	day := t.Day()
	last := daysIn(t.Year(), t.Month())
	if c.domAny {
		wd := t.Weekday()
		if c.dow.days&(1<<uint(wd)) != 0 {
			return true
		}
		for _, l := range c.dow.last {
			if wd == l && day+7 > last {
				return true
			}
		}
		for _, n := range c.dow.nth {
			if wd == n.wd && (day-1)/7+1 == n.k {
				return true
			}
		}
		return false
	}
	r := c.dom
	if r.days&(1<<uint(day)) != 0 || (r.last && day == last) || (r.lastOff > 0 && day == last-r.lastOff) {
		return true
	}
	if r.lastWD && day == nearestWeekday(t.Year(), t.Month(), last, last) {
		return true
	}
	for _, n := range r.weekday {
		if n <= last && day == nearestWeekday(t.Year(), t.Month(), n, last) {
			return true
		}
	}
	return false
}

// nearestWeekday is the Monday-to-Friday day nearest day n that stays in
// the month, as cron's W does (1W on a Saturday is Monday the 3rd).
func nearestWeekday(y int, m time.Month, n, last int) int {
	switch time.Date(y, m, n, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
