package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"fundigo/pkg/store"
)

// ErrUnknownSchedule: no schedule of that name is declared.
var ErrUnknownSchedule = errors.New("unknown schedule")

// Listed is one schedule as List shows it: its durable record, and whether
// this configuration disables it (Config.Disabled; not stored).
type Listed struct {
	store.Schedule
	Disabled bool
}

// List returns every declared schedule with its durable record: the
// definition comes from the table in code, HandlerRegistered from
// Config.HasHandlerFunc; a schedule that never ticked has an empty record and
// its next tick computed from the clock. A disabled schedule has no next
// run. It reads, never writes.
func (s *Scheduler) List(ctx context.Context) ([]Listed, error) {
	recs, err := s.records.List(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]store.Schedule, len(recs))
	for _, r := range recs {
		byName[r.Name] = r
	}
	now := s.clock.Now()
	defs := s.definitions()
	out := make([]Listed, 0, len(defs))
	for i, d := range defs {
		r := byName[d.Name]
		r.ScheduleDefinition = d
		disabled := s.entries[i].disabled
		switch {
		case disabled:
			r.NextRun = nil
		case r.NextRun == nil:
			next := s.entries[i].cron.Next(now)
			r.NextRun = &next
		}
		out = append(out, Listed{Schedule: r, Disabled: disabled})
	}
	return out, nil
}

// RunNow enqueues a run of the named schedule immediately, outside its
// ticks, under task ID name + ":manual:" + a UUID, and notes it in the record
// (so the overlap check sees it). ErrUnknownSchedule for an undeclared name.
func (s *Scheduler) RunNow(ctx context.Context, name string) (string, error) {
	for _, e := range s.entries {
		if e.Name != name {
			continue
		}
		now := s.clock.Now()
		id := ManualTaskID(name)
		outcome, msg := s.enqueue(ctx, e, id, Payload{Schedule: name, Tick: now.UTC(), Manual: true},
			max(e.retention, manualRetention))
		if outcome != store.ScheduleEnqueued {
			return "", fmt.Errorf("run schedule %s now: %s", name, msg)
		}
		if err := s.records.RecordManualRun(ctx, name, id, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return id, err
		}
		return id, nil
	}
	return "", fmt.Errorf("run schedule %s now: %w", name, ErrUnknownSchedule)
}

// manualRetention keeps a finished manual run long enough for an operator to
// read its result with GET /v1/tasks/{id} (the API's manual runs do the same).
const manualRetention = 24 * time.Hour

// ManualTaskID is the task ID of an operator-triggered run of a schedule.
func ManualTaskID(name string) string { return name + ":manual:" + uuid.NewString() }

// WriteTable prints schedules as an aligned table for a terminal; a
// disabled schedule's NEXT RUN reads "disabled".
func WriteTable(w io.Writer, rows []Listed) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSPEC\tTASK TYPE\tQUEUE\tHANDLER\tNEXT RUN\tLAST TICK\tOUTCOME\tLAST RUN\tERROR")
	for _, r := range rows {
		loc, err := time.LoadLocation(r.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		handler := "yes"
		if !r.HandlerRegistered {
			handler = "MISSING"
		}
		run := "-"
		if r.LastRunStatus != "" {
			run = string(r.LastRunStatus)
			if r.LastDuration != nil {
				run += " " + r.LastDuration.Round(time.Millisecond).String()
			}
		}
		next := when(r.NextRun, loc)
		if r.Disabled {
			next = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s (%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, r.Spec, r.TimeZone, r.TaskType, r.Queue, handler,
			next, when(r.LastTick, loc), orDash(string(r.LastOutcome)),
			run, orDash(oneLine(firstNonEmpty(r.LastRunError, r.LastError), 60)))
	}
	return tw.Flush()
}

func when(t *time.Time, loc *time.Location) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
