package notification

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuietUntil(t *testing.T) {
	t.Parallel()
	nbo := func(d, h, m int) time.Time {
		return time.Date(2026, 3, d, h, m, 0, 0, time.FixedZone("EAT", 3*3600))
	}
	overnight := QuietHours{Start: "22:00", End: "07:00", TZ: "Africa/Nairobi"}
	afternoon := QuietHours{Start: "13:00", End: "15:30", TZ: "Africa/Nairobi"}
	for _, tc := range []struct {
		name  string
		q     QuietHours
		now   time.Time
		quiet bool
		until time.Time
	}{
		{"before overnight window", overnight, nbo(10, 21, 59), false, time.Time{}},
		{"start of overnight window", overnight, nbo(10, 22, 0), true, nbo(11, 7, 0)},
		{"late evening", overnight, nbo(10, 23, 30), true, nbo(11, 7, 0)},
		{"after midnight", overnight, nbo(11, 2, 0), true, nbo(11, 7, 0)},
		{"end is exclusive", overnight, nbo(11, 7, 0), false, time.Time{}},
		{"day", overnight, nbo(11, 12, 0), false, time.Time{}},
		{"inside same-day window", afternoon, nbo(10, 14, 0), true, nbo(10, 15, 30)},
		{"after same-day window", afternoon, nbo(10, 15, 30), false, time.Time{}},
		{"end of month wraps", overnight, nbo(31, 23, 0), true, time.Date(2026, 4, 1, 7, 0, 0, 0, time.FixedZone("EAT", 3*3600))},
		{"empty window", QuietHours{Start: "08:00", End: "08:00", TZ: "UTC"}, nbo(10, 8, 0), false, time.Time{}},
		{"other zone", QuietHours{Start: "22:00", End: "06:00", TZ: "Europe/London"},
			time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC), true, time.Date(2026, 7, 2, 5, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			until, quiet, err := quietUntil(tc.q, tc.now)
			require.NoError(t, err)
			require.Equal(t, tc.quiet, quiet)
			if quiet {
				require.True(t, until.Equal(tc.until), "until %s, want %s", until, tc.until)
			}
		})
	}
	_, _, err := quietUntil(QuietHours{Start: "22:00", End: "07:00", TZ: "Mars/Olympus"}, nbo(10, 1, 0))
	require.Error(t, err)
	_, _, err = quietUntil(QuietHours{Start: "25:00", End: "07:00", TZ: "UTC"}, nbo(10, 1, 0))
	require.Error(t, err)
}
