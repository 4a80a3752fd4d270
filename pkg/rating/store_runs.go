package rating

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
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
	s    *Store
}

// lockKeySQL scopes the advisory lock to the current schema, so parallel
// tests (one schema each) do not block one another.
const lockKeySQL = `hashtextextended(current_schema() || '.rating_recompute_runs', 0)`

// LockRecompute takes the full-recompute lock. ok=false means another
// process holds it (a run is in progress elsewhere).
func (s *Store) LockRecompute(ctx context.Context) (l *RecomputeLock, ok bool, err error) {
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
	return &RecomputeLock{conn: conn, s: s}, true, nil
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
		return r, store.ErrNotFound
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
	if !errors.Is(err, store.ErrNotFound) {
		return run, false, fmt.Errorf("resume rating recompute run: %w", err)
	}
	g, err := l.s.RefreshGlobals(ctx)
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

// BatchResult is what one keyset batch did: technicians in (After, UpTo].
type BatchResult struct {
	After, UpTo string
	Technicians int64    // technicians aggregated (0: nothing in the range)
	Reviews     int64    // reviews they have
	Changed     []string // technicians whose numbers changed (events written)
}

// NextBoundary returns the n-th distinct technician id after `after` (or
// the last one when fewer remain; "" when none remain): the upper end of
// the next keyset batch. One index-only range scan of the batch's reviews.
func (s *Store) NextBoundary(ctx context.Context, after string, n int) (string, error) {
	var upTo string
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(max(technician_id), '') FROM (
			SELECT DISTINCT technician_id FROM reviews WHERE technician_id > $1
			ORDER BY technician_id LIMIT $2) b`, after, n).Scan(&upTo)
	if err != nil {
		return "", fmt.Errorf("next ratings batch boundary after %q: %w", after, err)
	}
	return upTo, nil
}

// RecomputeRange recomputes the technicians in (after, upTo] in one
// statement (its own transaction): aggregate, upsert, and one rating.updated
// outbox row per changed technician. Idempotent: rerunning a committed range
// finds nothing changed and writes nothing, which is what makes a resumed
// run safe when a batch committed but the run's cursor had not advanced.
func (s *Store) RecomputeRange(ctx context.Context, after, upTo string, p RatingParams) (BatchResult, error) {
	sql := `WITH agg AS (` + ratingAggSQL + `
			WHERE technician_id > @after AND technician_id <= @up_to
			GROUP BY technician_id),
		` + ratingUpsertSQL + `
		SELECT (SELECT count(*) FROM agg), (SELECT coalesce(sum(n), 0) FROM agg),
		       array(SELECT technician_id FROM up)`
	res := BatchResult{After: after, UpTo: upTo}
	err := s.pool.QueryRow(ctx, sql, s.namedArgs(p, pgx.NamedArgs{"after": after, "up_to": upTo})).
		Scan(&res.Technicians, &res.Reviews, &res.Changed)
	if err != nil {
		return BatchResult{}, fmt.Errorf("recompute ratings of technicians (%q, %q]: %w", after, upTo, err)
	}
	if len(res.Changed) > 0 {
		store.Notify(s.pool, outbox.NotifyChannel) // the statement committed events
	}
	return res, nil
}

// Advance moves the run's cursor over a committed batch that starts at the
// cursor, adding its counts. store.ErrStaleTransition when the cursor is not
// res.After (another process moved it, or batches were advanced out of
// order). run is updated in place.
func (l *RecomputeLock) Advance(ctx context.Context, run *RecomputeRun, res BatchResult) error {
	if run.Cursor != res.After {
		return fmt.Errorf("advance rating recompute run %s from %q at %q: %w", run.ID, res.After, run.Cursor, store.ErrStaleTransition)
	}
	tag, err := l.conn.Exec(ctx, `
		UPDATE rating_recompute_runs SET cursor_technician_id = $3,
		       processed_technicians = processed_technicians + $4, processed_reviews = processed_reviews + $5,
		       changed_technicians = changed_technicians + $6, batches = batches + 1, updated_at = now()
		WHERE id = $1::uuid AND status = 'running' AND cursor_technician_id = $2`,
		run.ID, res.After, res.UpTo, res.Technicians, res.Reviews, len(res.Changed))
	if err != nil {
		return fmt.Errorf("advance rating recompute run %s to %q: %w", run.ID, res.UpTo, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("advance rating recompute run %s from %q: %w", run.ID, res.After, store.ErrStaleTransition)
	}
	run.Cursor = res.UpTo
	run.ProcessedTechnicians += res.Technicians
	run.ProcessedReviews += res.Reviews
	run.ChangedTechnicians += int64(len(res.Changed))
	run.Batches++
	return nil
}

// RunBatch runs the next batch of the run sequentially: boundary, range
// recompute, advance. done=true when no technician is left after the cursor.
func (l *RecomputeLock) RunBatch(ctx context.Context, run *RecomputeRun) (res BatchResult, done bool, err error) {
	upTo, err := l.s.NextBoundary(ctx, run.Cursor, run.BatchSize)
	if err != nil || upTo == "" {
		return BatchResult{}, err == nil, err
	}
	if res, err = l.s.RecomputeRange(ctx, run.Cursor, upTo, run.Params); err != nil {
		return BatchResult{}, false, err
	}
	return res, false, l.Advance(ctx, run, res)
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
		return fmt.Errorf("finish rating recompute run %s: %w", run.ID, store.ErrStaleTransition)
	}
	run.Status = status
	return nil
}

// LatestRun returns the most recently started run, or store.ErrNotFound.
func (s *Store) LatestRun(ctx context.Context) (RecomputeRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM rating_recompute_runs ORDER BY started_at DESC LIMIT 1`))
	if err != nil {
		return r, fmt.Errorf("latest rating recompute run: %w", err)
	}
	return r, nil
}
