package notification

import (
	"fmt"
	"time"
	_ "time/tzdata" // quiet hours name IANA zones; do not depend on the host's zoneinfo
)

// quietUntil reports whether now falls in the quiet window q and, if so,
// when the window ends (the instant a deferred notification becomes due).
// The window is a daily local-time range in q.TZ; Start after End spans
// midnight; Start equal to End is no window.
func quietUntil(q QuietHours, now time.Time) (time.Time, bool, error) {
	loc, err := time.LoadLocation(q.TZ)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("quiet hours zone %q: %w", q.TZ, err)
	}
	start, err := time.Parse("15:04", q.Start)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("quiet hours start %q: %w", q.Start, err)
	}
	end, err := time.Parse("15:04", q.End)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("quiet hours end %q: %w", q.End, err)
	}
	local := now.In(loc)
	y, m, d := local.Date()
	at := func(day int, clock time.Time) time.Time {
		return time.Date(y, m, day, clock.Hour(), clock.Minute(), 0, 0, loc)
	}
	todayStart, todayEnd := at(d, start), at(d, end)
	switch {
	case todayStart.Equal(todayEnd):
		return time.Time{}, false, nil
	case todayStart.Before(todayEnd): // e.g. 13:00-15:00
		if !local.Before(todayStart) && local.Before(todayEnd) {
			return todayEnd, true, nil
		}
	default: // spans midnight, e.g. 22:00-07:00
		if !local.Before(todayStart) {
			return at(d+1, end), true, nil
		}
		if local.Before(todayEnd) {
			return todayEnd, true, nil
		}
	}
	return time.Time{}, false, nil
}
