package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// OverlapPolicy says what a tick does while the schedule's previous run is
// still pending, active or waiting to retry.
type OverlapPolicy string

const (
	// OverlapSkip skips the tick (recorded as skipped_overlap): never two runs
	// of one job at once by accident. The default.
	OverlapSkip OverlapPolicy = "skip"
	// OverlapQueue enqueues the tick anyway; it waits in the queue like any
	// task and may run beside the previous run, so the handler must tolerate
	// that.
	OverlapQueue OverlapPolicy = "queue"
)

// MissedPolicy says what happens to ticks that passed while no replica led
// (or everything was down).
type MissedPolicy string

const (
	// MissedRunOnce enqueues one run, for the latest missed tick, on
	// recovery; older missed ticks are dropped. The default.
	MissedRunOnce MissedPolicy = "run_once"
	// MissedSkip drops missed ticks (recorded as skipped_missed) and waits
	// for the next one.
	MissedSkip MissedPolicy = "skip"
)

// Schedule declares one cron job. The table in schedules.go lists them all.
type Schedule struct {
	// Name identifies the job; it prefixes every task ID the job enqueues
	// (name + ":" + tick in UTC RFC 3339), so it must be unique and stable.
	Name string
	// Spec is a cron spec: 5 fields (minute granularity), 6 fields (leading
	// seconds), or a descriptor such as @daily. @every is refused: its ticks
	// are not aligned to the clock, so replicas would not agree on them.
	Spec string
	// TimeZone is the IANA zone Spec is read in; "" means Config.TimeZone
	// (Africa/Nairobi by default).
	TimeZone string
	// TaskType is the Asynq task type enqueued (a pkg/tasks constant).
	TaskType string
	// Queue is the Asynq queue the task goes to.
	Queue string
	// Timeout bounds one run (asynq.Timeout).
	Timeout time.Duration
	// MaxRetry is passed to asynq.MaxRetry as is (0 means no retry; the next
	// tick is the retry).
	MaxRetry int
	// Overlap defaults to OverlapSkip.
	Overlap OverlapPolicy
	// Missed defaults to MissedRunOnce.
	Missed MissedPolicy
}

// TickTaskID is the deterministic task ID of a schedule's tick: the same on
// every replica, so Asynq refuses a second enqueue of one tick.
func TickTaskID(name string, tick time.Time) string {
	return name + ":" + tick.UTC().Format(time.RFC3339)
}

var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// entry is a validated Schedule with its parsed spec.
type entry struct {
	Schedule
	cron cron.Schedule
	// retention keeps a finished tick's task ID taken in Asynq for at least
	// one tick interval, so a late replica cannot enqueue that tick again.
	retention time.Duration
	// disabled: Config.Disabled names it; its ticks are not enqueued.
	disabled bool
}

// compile validates s, fills its defaults and parses its spec in its zone.
func compile(s Schedule, defaultTZ string) (entry, error) {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if s.TaskType == "" {
		errs = append(errs, errors.New("task type is empty"))
	}
	if s.Queue == "" {
		errs = append(errs, errors.New("queue is empty"))
	}
	if s.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if s.MaxRetry < 0 {
		errs = append(errs, errors.New("max retry must not be negative"))
	}
	if s.Overlap == "" {
		s.Overlap = OverlapSkip
	}
	if s.Overlap != OverlapSkip && s.Overlap != OverlapQueue {
		errs = append(errs, fmt.Errorf("unknown overlap policy %q", s.Overlap))
	}
	if s.Missed == "" {
		s.Missed = MissedRunOnce
	}
	if s.Missed != MissedRunOnce && s.Missed != MissedSkip {
		errs = append(errs, fmt.Errorf("unknown missed-tick policy %q", s.Missed))
	}
	if s.TimeZone == "" {
		s.TimeZone = defaultTZ
	}
	sched, err := parseSpec(s.Spec, s.TimeZone)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return entry{}, fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	return entry{Schedule: s, cron: sched, retention: retentionFor(sched)}, nil
}

// parseSpec parses spec in zone tz with robfig/cron's parser (only its parser:
// the scheduler runs its own loop).
func parseSpec(spec, tz string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, errors.New("spec is empty")
	case strings.HasPrefix(spec, "@every"):
		return nil, fmt.Errorf("spec %q: @every is not aligned to the clock", spec)
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return nil, fmt.Errorf("spec %q: put the zone in TimeZone, not in the spec", spec)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("load time zone %q: %w", tz, err)
	}
	sched, err := specParser.Parse("CRON_TZ=" + tz + " " + spec)
	if err != nil {
		return nil, fmt.Errorf("parse spec %q: %w", spec, err)
	}
	return sched, nil
}

// retentionFor returns twice the longest gap between a few consecutive ticks
// (at least a minute): long enough that a tick's task ID stays taken until
// well after the next tick.
func retentionFor(s cron.Schedule) time.Duration {
	var longest time.Duration
	t := s.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	for range 8 {
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	return max(2*longest, time.Minute)
}

// prevTick returns the latest tick at or before now, and false if there is
// none within about a year. It widens a look-back window until a tick falls
// in it, so it costs a handful of Next calls, not one per elapsed tick.
func prevTick(s cron.Schedule, now time.Time) (time.Time, bool) {
	for w := time.Second; w <= 400*24*time.Hour; w *= 2 {
		t := s.Next(now.Add(-w))
		if t.IsZero() || t.After(now) {
			continue
		}
		for {
			n := s.Next(t)
			if n.IsZero() || n.After(now) {
				return t, true
			}
			t = n
		}
	}
	return time.Time{}, false
}
