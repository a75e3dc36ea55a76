package generator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration is time.ParseDuration with two more units, d (24h) and w (7d), as people say how long a
// lab should live: "14d", "36h", "2w", "1d12h", "90m". "0" is 0.
func ParseDuration(s string) (time.Duration, error) {
	var b strings.Builder
	rest := s
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		b.WriteByte(rest[0])
		rest = rest[1:]
	}
	for rest != "" {
		n := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if n < 0 { // a number without a unit: only "0" is allowed, as in time.ParseDuration
			b.WriteString(rest)
			break
		}
		num := rest[:n]
		u := strings.IndexFunc(rest[n:], func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if u < 0 {
			u = len(rest) - n
		}
		unit := rest[n : n+u]
		rest = rest[n+u:]
		hours := map[string]float64{"d": 24, "w": 7 * 24}[unit]
		if hours == 0 {
			b.WriteString(num + unit)
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %q is not a number", s, num)
		}
		b.WriteString(strconv.FormatFloat(v*hours, 'f', -1, 64) + "h")
	}
	d, err := time.ParseDuration(b.String())
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// durationExamples is what the errors about durations offer instead.
const durationExamples = "e.g. 14d, 36h, 2w or 1h30m (d: days, w: weeks)"

// Expiry is when a lab expires that is asked to live `--for` a duration from now (e.g. "14d", see
// ParseDuration) or `--until` a time: a date such as "2026-12-24", which means the end of that day in
// UTC (23:59:59), or an RFC 3339 time such as "2026-12-24T18:00:00+01:00". At most one of the two may be
// given; ok is false when neither is. The time is in UTC, to the second, and must be after now.
func Expiry(forValue, until string, now time.Time) (t time.Time, ok bool, err error) {
	switch {
	case forValue == "" && until == "":
		return time.Time{}, false, nil
	case forValue != "" && until != "":
		return time.Time{}, false, fmt.Errorf("--for %s and --until %s both say when the lab expires: give one of them", forValue, until)
	case forValue != "":
		d, err := ParseDuration(forValue)
		switch {
		case err != nil:
			return time.Time{}, false, fmt.Errorf("--for %q is not a duration: give %s", forValue, durationExamples)
		case d <= 0:
			return time.Time{}, false, fmt.Errorf("--for %s must be longer than 0, %s", forValue, durationExamples)
		}
		return now.Add(d).UTC().Truncate(time.Second), true, nil
	}
	t, err = parseUntil(until)
	if err != nil {
		return time.Time{}, false, err
	}
	if !t.After(now) {
		return time.Time{}, false, fmt.Errorf("--until %s is in the past (it is %s now): give a later date or time, or --for, e.g. --for 14d", until, now.UTC().Format(timeLayout))
	}
	return t, true, nil
}

// parseUntil reads a date (the end of that day in UTC) or an RFC 3339 time.
func parseUntil(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24*time.Hour - time.Second), nil // time.Parse gives a time without a zone in UTC
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--until %q is not a date or a time: give a date such as 2026-12-24 (the lab stops at the end of that day, UTC) "+
		"or an RFC 3339 time such as 2026-12-24T18:00:00+01:00", s)
}

// idleTimeout reads --idle-timeout: a duration of at least 0, where 0 means never.
func idleTimeout(s string) (time.Duration, error) {
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("--idle-timeout %q is not a duration: give e.g. 2h, 90m or 1d, or 0 to never stop the lab for being idle", s)
	case d < 0:
		return 0, fmt.Errorf("--idle-timeout %s is negative: give e.g. 2h, or 0 to never stop the lab for being idle", s)
	}
	return d, nil
}

// timeLayout is how labctl writes times for people.
const timeLayout = "2006-01-02 15:04:05 UTC"

// FormatTime writes t as labctl does for people: "2026-12-24 23:59:59 UTC".
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
