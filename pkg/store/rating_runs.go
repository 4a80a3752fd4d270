package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RecomputeRun is one full recompute (rating_recompute_runs). Cursor is the
// last technician_id of the last committed batch ("" before the first).
type RecomputeRun struct {
	ID                   string
	Status               string // running | finished | failed
	Cursor               string
	Params               RatingParams
	BatchSize            int
	TotalReviews         int64
	ProcessedReviews     int64
	ProcessedTechnicians int64
	ChangedTechnicians   int64
	Batches              int
	Resumes              int
	TaskID               string
	StartedAt            time.Time
	UpdatedAt            time.Time
}

// RecomputeLock is a full recompute's exclusive hold: a pooled connection
// holding a session advisory lock, so only one process runs batches at a
// time. If the process dies the connection closes and PostgreSQL releases
// the lock, and the next attempt resumes the run. Not safe for concurrent use.
type RecomputeLock struct {
	conn *pgxpool.Conn
	r    *Ratings
}

// lockKeySQL scopes the advisory lock to the current schema, so parallel
// tests (one schema each) do not block one another.
const lockKeySQL = `hashtextextended(current_schema() || '.rating_recompute_runs', 0)`

// LockRecompute takes the full-recompute lock. ok=false means another
// process holds it (a run is in progress elsewhere).
func (s *Ratings) LockRecompute(ctx context.Context) (l *RecomputeLock, ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("acquire connection for recompute lock: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKeySQL+`)`).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("take recompute lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return &RecomputeLock{conn: conn, r: s}, true, nil
}

// Unlock releases the lock and the connection (bookkeeping that must happen
// even when ctx is cancelled). If the unlock fails the connection is closed,
// which releases the lock too.
// Calling it again is a no-op.
func (l *RecomputeLock) Unlock(ctx context.Context) {
	if l.conn == nil {
		return
	}
	defer func() { l.conn = nil }()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKeySQL+`)`); err != nil {
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

const runColumns = `id::text, status, cursor_technician_id, global_mean::text, prior_weight, batch_size,
	total_reviews, processed_reviews, processed_technicians, changed_technicians, batches, resumes,
	task_id, started_at, updated_at`

func scanRun(row pgx.Row) (RecomputeRun, error) {
	var r RecomputeRun
	err := row.Scan(&r.ID, &r.Status, &r.Cursor, &r.Params.GlobalMean, &r.Params.PriorWeight, &r.BatchSize,
		&r.TotalReviews, &r.ProcessedReviews, &r.ProcessedTechnicians, &r.ChangedTechnicians,
		&r.Batches, &r.Resumes, &r.TaskID, &r.StartedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// StartOrResume returns the unfinished run (resumed=true, its resume count
// incremented, same global mean and prior weight), or refreshes the global
// mean and starts a new run with priorWeight and batchSize.
func (l *RecomputeLock) StartOrResume(ctx context.Context, taskID string, priorWeight, batchSize int) (run RecomputeRun, resumed bool, err error) {
	run, err = scanRun(l.conn.QueryRow(ctx, `
		UPDATE rating_recompute_runs SET resumes = resumes + 1, task_id = $1, updated_at = now()
		WHERE status = 'running' RETURNING `+runColumns, taskID))
	if err == nil {
		return run, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return run, false, fmt.Errorf("resume rating recompute run: %w", err)
	}
	g, err := l.r.RefreshGlobals(ctx)
	if err != nil {
		return run, false, err
	}
	run, err = scanRun(l.conn.QueryRow(ctx, `
		INSERT INTO rating_recompute_runs (global_mean, prior_weight, batch_size, total_reviews, task_id)
		VALUES ($1::numeric, $2, $3, $4, $5) RETURNING `+runColumns,
		g.GlobalMean, priorWeight, batchSize, g.ReviewCount, taskID))
	if err != nil {
		return run, false, fmt.Errorf("start rating recompute run: %w", err)
	}
	return run, false, nil
}

// BatchResult is what one keyset batch did.
type BatchResult struct {
	Technicians int64    // technicians aggregated (0: the run has no more)
	Reviews     int64    // reviews they have
	Changed     []string // technicians whose numbers changed (events written)
	Cursor      string   // the run's cursor after the batch
}

// RunBatch recomputes the next run.BatchSize technicians after run.Cursor in
// one statement and one transaction: aggregate, upsert, outbox rows for the
// changed ones, and the run's cursor and counters advance — so a crash
// either keeps the whole batch or none of it. run is updated in place. When
// the cursor in the database is not run.Cursor (another process advanced
// it) nothing is written and ErrStaleTransition is returned.
func (l *RecomputeLock) RunBatch(ctx context.Context, run *RecomputeRun) (BatchResult, error) {
	sql := `WITH agg AS (` + ratingAggSQL + `
			WHERE technician_id > @cursor
			GROUP BY technician_id ORDER BY technician_id LIMIT @batch_size),
		` + ratingUpsertSQL + `,
		stats AS (SELECT max(technician_id) AS last_id, count(*) AS techs, coalesce(sum(n), 0) AS reviews FROM agg),
		run AS (
			UPDATE rating_recompute_runs r SET
			       cursor_technician_id = stats.last_id,
			       processed_technicians = r.processed_technicians + stats.techs,
			       processed_reviews = r.processed_reviews + stats.reviews,
			       changed_technicians = r.changed_technicians + (SELECT count(*) FROM up),
			       batches = r.batches + 1, updated_at = now()
			FROM stats
			WHERE r.id = @run_id::uuid AND r.status = 'running' AND r.cursor_technician_id = @cursor
			      AND stats.techs > 0
			RETURNING r.id)
		SELECT coalesce(stats.last_id, ''), stats.techs, stats.reviews,
		       array(SELECT technician_id FROM up), (SELECT count(*) FROM run)
		FROM stats`
	var res BatchResult
	var advanced int64
	err := WithTx(ctx, l.conn, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, sql, l.r.namedArgs(run.Params, pgx.NamedArgs{
			"cursor": run.Cursor, "batch_size": run.BatchSize, "run_id": run.ID,
		})).Scan(&res.Cursor, &res.Technicians, &res.Reviews, &res.Changed, &advanced)
		if err != nil {
			return err
		}
		if res.Technicians > 0 && advanced == 0 {
			return ErrStaleTransition
		}
		return nil
	})
	if err != nil {
		return BatchResult{}, fmt.Errorf("recompute ratings batch after %q (run %s): %w", run.Cursor, run.ID, err)
	}
	if res.Technicians == 0 {
		res.Cursor = run.Cursor
		return res, nil
	}
	run.Cursor = res.Cursor
	run.ProcessedTechnicians += res.Technicians
	run.ProcessedReviews += res.Reviews
	run.ChangedTechnicians += int64(len(res.Changed))
	run.Batches++
	return res, nil
}

// Finish marks the run finished (or failed with runErr).
func (l *RecomputeLock) Finish(ctx context.Context, run *RecomputeRun, runErr error) error {
	status, msg := "finished", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	tag, err := l.conn.Exec(ctx, `
		UPDATE rating_recompute_runs SET status = $2, error = $3, updated_at = now(), finished_at = now()
		WHERE id = $1::uuid AND status = 'running'`, run.ID, status, msg)
	if err != nil {
		return fmt.Errorf("finish rating recompute run %s: %w", run.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish rating recompute run %s: %w", run.ID, ErrStaleTransition)
	}
	run.Status = status
	return nil
}

// LatestRun returns the most recently started run, or ErrNotFound.
func (s *Ratings) LatestRun(ctx context.Context) (RecomputeRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM rating_recompute_runs ORDER BY started_at DESC LIMIT 1`))
	if err != nil {
		return r, fmt.Errorf("latest rating recompute run: %w", err)
	}
	return r, nil
}
