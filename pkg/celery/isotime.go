package celery

import (
	"fmt"
	"strings"
	"time"
)

// isoLayouts are the shapes Python's datetime.isoformat() produces (with or
// without microseconds, aware or naive, "T" or space separated) and kombu's
// "Z" spelling of UTC.
var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// ParseTime parses a timestamp the way Celery writes eta, expires and
// datetime arguments (Python isoformat). A naive timestamp is taken as UTC,
// which is what Celery assumes with its default enable_utc=True.
func ParseTime(s string) (time.Time, error) {
	v := strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: not an ISO 8601 timestamp", s)
}

// FormatTime writes t as an aware Python isoformat in UTC with microseconds,
// e.g. 2024-06-19T19:23:24.611430+00:00: what Celery writes for eta and
// date_done, and what datetime.fromisoformat reads back.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}
