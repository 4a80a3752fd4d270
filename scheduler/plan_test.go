package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
)

func mustEntry(t *testing.T, s Schedule) entry {
	t.Helper()
	if s.Name == "" {
		s.Name = "job"
	}
	if s.TaskType == "" {
		s.TaskType = "test:job"
	}
	if s.Queue == "" {
		s.Queue = "q"
	}
	if s.Timeout == 0 {
		s.Timeout = time.Second
	}
	e, err := compile(s, "UTC")
	require.NoError(t, err)
	return e
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPlanTick(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	tests := []struct {
		name        string
		missed      MissedPolicy
		base, now   string
		wantTick    string // "" = nothing due
		wantEnqueue bool
		wantMissed  bool
		wantNext    string
	}{
		{name: "not due yet", base: "2030-01-01T00:00:30Z", now: "2030-01-01T00:00:59Z",
			wantNext: "2030-01-01T00:01:00Z"},
		{name: "due exactly on time", base: "2030-01-01T00:00:00Z", now: "2030-01-01T00:01:00Z",
			wantTick: "2030-01-01T00:01:00Z", wantEnqueue: true, wantNext: "2030-01-01T00:02:00Z"},
		{name: "slightly late within grace", base: "2030-01-01T00:00:00Z", now: "2030-01-01T00:01:20Z",
			wantTick: "2030-01-01T00:01:00Z", wantEnqueue: true, wantNext: "2030-01-01T00:02:00Z"},
		{name: "late beyond grace, run once", base: "2030-01-01T00:00:00Z", now: "2030-01-01T00:01:40Z",
			wantTick: "2030-01-01T00:01:00Z", wantEnqueue: true, wantMissed: true, wantNext: "2030-01-01T00:02:00Z"},
		{name: "late beyond grace, skip", missed: MissedSkip, base: "2030-01-01T00:00:00Z", now: "2030-01-01T00:01:40Z",
			wantTick: "2030-01-01T00:01:00Z", wantMissed: true, wantNext: "2030-01-01T00:02:00Z"},
		{name: "outage of many ticks, run once for the latest only", base: "2030-01-01T00:00:00Z", now: "2030-01-01T03:17:45Z",
			wantTick: "2030-01-01T03:17:00Z", wantEnqueue: true, wantMissed: true, wantNext: "2030-01-01T03:18:00Z"},
		{name: "outage, skip drops all", missed: MissedSkip, base: "2030-01-01T00:00:00Z", now: "2030-01-01T03:17:45Z",
			wantTick: "2030-01-01T03:17:00Z", wantMissed: true, wantNext: "2030-01-01T03:18:00Z"},
		{name: "outage, skip still runs a latest tick that is on time", missed: MissedSkip,
			base: "2030-01-01T00:00:00Z", now: "2030-01-01T03:17:05Z",
			wantTick: "2030-01-01T03:17:00Z", wantEnqueue: true, wantMissed: true, wantNext: "2030-01-01T03:18:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustEntry(t, Schedule{Spec: "* * * * *", Missed: tt.missed})
			p := planTick(e, at(tt.base), at(tt.now), grace)
			if tt.wantTick == "" {
				require.True(t, p.tick.IsZero(), "tick %s", p.tick)
			} else {
				require.Equal(t, at(tt.wantTick), p.tick.UTC())
			}
			require.Equal(t, tt.wantEnqueue, p.enqueue)
			require.Equal(t, tt.wantMissed, p.missed)
			require.Equal(t, at(tt.wantNext), p.next.UTC())
		})
	}
}

func TestPrevTickInZone(t *testing.T) {
	t.Parallel()
	e := mustEntry(t, Schedule{Spec: "0 3 * * *", TimeZone: "Africa/Nairobi"})
	// 03:00 EAT is 00:00 UTC.
	got, ok := prevTick(e.cron, at("2030-01-05T12:00:00Z"))
	require.True(t, ok)
	require.Equal(t, at("2030-01-05T00:00:00Z"), got.UTC())
	got, ok = prevTick(e.cron, at("2030-01-05T00:00:00Z"))
	require.True(t, ok)
	require.Equal(t, at("2030-01-05T00:00:00Z"), got.UTC(), "a tick exactly at now counts")
	require.Equal(t, at("2030-01-06T00:00:00Z"), e.cron.Next(got).UTC())
}

func TestPrevTickSeconds(t *testing.T) {
	t.Parallel()
	e := mustEntry(t, Schedule{Spec: "*/10 * * * * *"})
	got, ok := prevTick(e.cron, at("2030-01-01T00:00:59Z").Add(300*time.Millisecond))
	require.True(t, ok)
	require.Equal(t, at("2030-01-01T00:00:50Z"), got.UTC())
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	ok := Schedule{Name: "job", Spec: "* * * * *", TaskType: "t", Queue: "q", Timeout: time.Second}
	tests := []struct {
		name    string
		mutate  func(*Schedule)
		wantErr string
	}{
		{"empty name", func(s *Schedule) { s.Name = "" }, "name is empty"},
		{"empty type", func(s *Schedule) { s.TaskType = "" }, "task type is empty"},
		{"empty queue", func(s *Schedule) { s.Queue = "" }, "queue is empty"},
		{"no timeout", func(s *Schedule) { s.Timeout = 0 }, "timeout must be positive"},
		{"bad spec", func(s *Schedule) { s.Spec = "61 * * * *" }, "parse spec"},
		{"every", func(s *Schedule) { s.Spec = "@every 5m" }, "not aligned"},
		{"zone in spec", func(s *Schedule) { s.Spec = "CRON_TZ=UTC * * * * *" }, "TimeZone"},
		{"bad zone", func(s *Schedule) { s.TimeZone = "Mars/Olympus" }, "load time zone"},
		{"bad overlap", func(s *Schedule) { s.Overlap = "maybe" }, "overlap policy"},
		{"bad missed", func(s *Schedule) { s.Missed = "burst" }, "missed-tick policy"},
		{"negative retry", func(s *Schedule) { s.MaxRetry = -1 }, "max retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ok
			tt.mutate(&s)
			_, err := compile(s, "UTC")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	e, err := compile(ok, "Africa/Nairobi")
	require.NoError(t, err)
	require.Equal(t, OverlapSkip, e.Overlap)
	require.Equal(t, MissedRunOnce, e.Missed)
	require.Equal(t, "Africa/Nairobi", e.TimeZone)
	require.Equal(t, 2*time.Minute, e.retention)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := Config{Schedules: []Schedule{
		{Name: "a", Spec: "* * * * *", TaskType: "t", Queue: "q", Timeout: time.Second},
		{Name: "a", Spec: "* * * * *", TaskType: "t", Queue: "q", Timeout: time.Second},
	}, LeaseTTL: time.Second, RenewInterval: 2 * time.Second}
	cfg.setDefaults()
	err := cfg.Validate()
	require.ErrorContains(t, err, `schedule "a" declared twice`)
	require.ErrorContains(t, err, "renew interval")
}

func TestTableIsValid(t *testing.T) {
	t.Parallel()
	cfg := Config{Schedules: Table(tasks.NewQueues(""))}
	cfg.setDefaults()
	require.NoError(t, cfg.Validate())
	want := map[string]time.Duration{
		"payments:reconcile": time.Minute, "payouts:reconcile": time.Minute, "push:receipts": 5 * time.Minute,
		"ratings:recompute_all": 24 * time.Hour, "maintenance:cleanup": 24 * time.Hour,
	}
	require.Len(t, cfg.Schedules, len(want))
	for _, s := range cfg.Schedules {
		e, err := compile(s, cfg.TimeZone)
		require.NoError(t, err)
		require.Equal(t, s.Name, s.TaskType, "schedule names follow their task type")
		first := e.cron.Next(at("2030-01-01T00:00:30Z"))
		require.Equal(t, want[s.Name], e.cron.Next(first).Sub(first), s.Name)
		require.Less(t, s.Timeout, want[s.Name]+time.Nanosecond, "%s: timeout beyond interval", s.Name)
		require.GreaterOrEqual(t, e.retention, want[s.Name], "%s: task id must outlive a tick", s.Name)
	}
	// Nightly jobs run at 03:00 and 04:00 Nairobi time (UTC+3).
	for _, s := range cfg.Schedules {
		e, _ := compile(s, cfg.TimeZone)
		switch s.Name {
		case "ratings:recompute_all":
			require.Equal(t, at("2030-01-02T00:00:00Z"), e.cron.Next(at("2030-01-01T12:00:00Z")).UTC())
		case "maintenance:cleanup":
			require.Equal(t, at("2030-01-02T01:00:00Z"), e.cron.Next(at("2030-01-01T12:00:00Z")).UTC())
		}
	}
}

func TestTickTaskID(t *testing.T) {
	t.Parallel()
	nairobi, err := time.LoadLocation("Africa/Nairobi")
	require.NoError(t, err)
	tick := time.Date(2030, 1, 1, 3, 0, 0, 0, nairobi)
	require.Equal(t, "ratings:recompute_all:2030-01-01T00:00:00Z", TickTaskID("ratings:recompute_all", tick))
	require.True(t, strings.HasPrefix(ManualTaskID("x"), "x:manual:"))
}
