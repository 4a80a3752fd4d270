package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ScheduleOutcome is what the scheduler did at a schedule's last tick.
type ScheduleOutcome string

// Tick outcomes.
const (
	ScheduleEnqueued       ScheduleOutcome = "enqueued"        // task enqueued for the tick
	ScheduleSkippedOverlap ScheduleOutcome = "skipped_overlap" // previous run still pending/active
	ScheduleSkippedMissed  ScheduleOutcome = "skipped_missed"  // tick missed while nobody led; policy skip
	ScheduleDuplicate      ScheduleOutcome = "duplicate"       // another replica already enqueued the tick
	ScheduleError          ScheduleOutcome = "error"           // enqueue failed; retried
)

// ScheduleRunStatus is how the last run of a schedule's task went.
type ScheduleRunStatus string

// Run statuses, written by the worker's scheduler middleware.
const (
	ScheduleRunning   ScheduleRunStatus = "running"
	ScheduleSucceeded ScheduleRunStatus = "succeeded"
	ScheduleFailed    ScheduleRunStatus = "failed"
)

// ScheduleDefinition is a schedule as declared in code, stored so the API can
// list and trigger schedules without importing the scheduler.
type ScheduleDefinition struct {
	Name              string
	Spec              string
	TimeZone          string
	TaskType          string
	Queue             string
	Timeout           time.Duration
	MaxRetry          int
	Overlap           string
	Missed            string
	HandlerRegistered bool
}

// Schedule is the durable record of one schedule. Nil pointers are "never".
type Schedule struct {
	ScheduleDefinition
	CreatedAt        time.Time
	DeclaredAt       time.Time
	NextRun          *time.Time
	LastTick         *time.Time
	LastEnqueuedAt   *time.Time
	LastTaskID       string
	LastOutcome      ScheduleOutcome
	LastError        string
	LastRunTaskID    string
	LastRunStartedAt *time.Time
	LastRunStatus    ScheduleRunStatus
	LastDuration     *time.Duration
	LastRunError     string
}

// ScheduleTick is what one replica did for one tick.
type ScheduleTick struct {
	Name    string
	Tick    time.Time
	At      time.Time // when it was done (scheduler clock)
	TaskID  string    // empty unless enqueued or duplicate
	Outcome ScheduleOutcome
	Err     string
	NextRun time.Time
}

// Schedules holds the queries on the schedules table. Safe for concurrent use.
type Schedules struct {
	pool *pgxpool.Pool
}

// NewSchedules returns the schedules queries over pool.
func NewSchedules(pool *pgxpool.Pool) *Schedules { return &Schedules{pool: pool} }

// Declare upserts the definitions. created_at is set on insert only (it is
// the missed-tick baseline of a schedule that never ticked); the tick and run
// columns are untouched.
func (s *Schedules) Declare(ctx context.Context, defs []ScheduleDefinition, now time.Time) error {
	b := &pgx.Batch{}
	for _, d := range defs {
		b.Queue(`INSERT INTO schedules (name, spec, time_zone, task_type, queue, timeout_ms,
				max_retry, overlap, missed, handler_registered, created_at, declared_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec,
				time_zone = EXCLUDED.time_zone, task_type = EXCLUDED.task_type,
				queue = EXCLUDED.queue, timeout_ms = EXCLUDED.timeout_ms,
				max_retry = EXCLUDED.max_retry, overlap = EXCLUDED.overlap,
				missed = EXCLUDED.missed, handler_registered = EXCLUDED.handler_registered,
				declared_at = EXCLUDED.declared_at`,
			d.Name, d.Spec, d.TimeZone, d.TaskType, d.Queue, d.Timeout.Milliseconds(),
			d.MaxRetry, d.Overlap, d.Missed, d.HandlerRegistered, now)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("declare schedules: %w", err)
	}
	return nil
}

const scheduleColumns = `name, spec, time_zone, task_type, queue, timeout_ms, max_retry,
	overlap, missed, handler_registered, created_at, declared_at, next_run, last_tick,
	last_enqueued_at, coalesce(last_task_id, ''), coalesce(last_outcome, ''),
	coalesce(last_error, ''), coalesce(last_run_task_id, ''), last_run_started_at,
	coalesce(last_run_status, ''), last_duration_ms, coalesce(last_run_error, '')`

func scanSchedule(row pgx.Row) (Schedule, error) {
	var (
		sc         Schedule
		timeoutMS  int64
		durationMS *int64
	)
	err := row.Scan(&sc.Name, &sc.Spec, &sc.TimeZone, &sc.TaskType, &sc.Queue, &timeoutMS,
		&sc.MaxRetry, &sc.Overlap, &sc.Missed, &sc.HandlerRegistered, &sc.CreatedAt,
		&sc.DeclaredAt, &sc.NextRun, &sc.LastTick, &sc.LastEnqueuedAt, &sc.LastTaskID,
		&sc.LastOutcome, &sc.LastError, &sc.LastRunTaskID, &sc.LastRunStartedAt,
		&sc.LastRunStatus, &durationMS, &sc.LastRunError)
	if err != nil {
		return Schedule{}, err
	}
	sc.Timeout = time.Duration(timeoutMS) * time.Millisecond
	if durationMS != nil {
		d := time.Duration(*durationMS) * time.Millisecond
		sc.LastDuration = &d
	}
	return sc, nil
}

// Get returns one schedule's record, or ErrNotFound.
func (s *Schedules) Get(ctx context.Context, name string) (Schedule, error) {
	sc, err := scanSchedule(s.pool.QueryRow(ctx,
		`SELECT `+scheduleColumns+` FROM schedules WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Schedule{}, fmt.Errorf("get schedule %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("get schedule %s: %w", name, err)
	}
	return sc, nil
}

// List returns every schedule's record, by name.
func (s *Schedules) List(ctx context.Context) ([]Schedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scheduleColumns+` FROM schedules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Schedule, error) {
		return scanSchedule(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// RecordTick stores what a replica did for a tick. last_tick only moves
// forward: a tick older than the recorded one changes nothing, and for the
// recorded tick itself only "enqueued" may overwrite another outcome (a
// duplicate or a skip seen by a second replica never hides the enqueue). An error leaves last_tick alone (the tick is retried) and only
// sets last_outcome/last_error. It returns ErrStaleTransition when nothing
// changed (a newer tick is recorded, or the schedule was never declared).
func (s *Schedules) RecordTick(ctx context.Context, t ScheduleTick) error {
	var (
		tag pgconn.CommandTag
		err error
	)
	if t.Outcome == ScheduleError {
		tag, err = s.pool.Exec(ctx, `UPDATE schedules SET last_outcome = 'error', last_error = $2
			WHERE name = $1 AND (last_tick IS NULL OR last_tick < $3)`, t.Name, t.Err, t.Tick)
	} else {
		cmp := "<" // only an enqueue may overwrite another outcome of the same tick
		if t.Outcome == ScheduleEnqueued {
			cmp = "<="
		}
		tag, err = s.pool.Exec(ctx, `UPDATE schedules SET last_tick = $2, last_outcome = $3,
				last_error = NULLIF($4, ''), next_run = $5,
				last_task_id = coalesce(NULLIF($6, ''), last_task_id),
				last_enqueued_at = CASE WHEN $3 = 'enqueued' THEN $7 ELSE last_enqueued_at END
			WHERE name = $1 AND (last_tick IS NULL OR last_tick `+cmp+` $2)`,
			t.Name, t.Tick, string(t.Outcome), t.Err, t.NextRun, t.TaskID, t.At)
	}
	if err != nil {
		return fmt.Errorf("record tick of schedule %s: %w", t.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record tick of schedule %s: %w", t.Name, ErrStaleTransition)
	}
	return nil
}

// RecordManualRun notes a run enqueued by an operator: it becomes the run the
// overlap check looks at. ErrNotFound for an undeclared schedule.
func (s *Schedules) RecordManualRun(ctx context.Context, name, taskID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE schedules SET last_task_id = $2, last_enqueued_at = $3
		WHERE name = $1`, name, taskID, at)
	if err != nil {
		return fmt.Errorf("record manual run of schedule %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record manual run of schedule %s: %w", name, ErrNotFound)
	}
	return nil
}

// RecordRunStart marks a run of the schedule's task as running. A start older
// than the recorded one changes nothing.
func (s *Schedules) RecordRunStart(ctx context.Context, name, taskID string, startedAt time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE schedules SET last_run_task_id = $2,
			last_run_started_at = $3, last_run_status = 'running', last_duration_ms = NULL,
			last_run_error = NULL
		WHERE name = $1 AND (last_run_started_at IS NULL OR last_run_started_at <= $3)`,
		name, taskID, startedAt)
	if err != nil {
		return fmt.Errorf("record run start of schedule %s task %s: %w", name, taskID, err)
	}
	return nil
}

// RecordRunEnd stores how a run ended, if it is still the last run started
// (a slow older run does not overwrite a newer one).
func (s *Schedules) RecordRunEnd(ctx context.Context, name, taskID string, d time.Duration, runErr error) error {
	status, msg := ScheduleSucceeded, ""
	if runErr != nil {
		status, msg = ScheduleFailed, runErr.Error()
	}
	_, err := s.pool.Exec(ctx, `UPDATE schedules SET last_run_status = $3,
			last_duration_ms = $4, last_run_error = NULLIF($5, '')
		WHERE name = $1 AND last_run_task_id = $2`,
		name, taskID, string(status), d.Milliseconds(), msg)
	if err != nil {
		return fmt.Errorf("record run end of schedule %s task %s: %w", name, taskID, err)
	}
	return nil
}
