-- +goose Up
-- Store.ClaimDue runs through this function so that its plan is always an
-- ordered index scan of notification_deliveries_due that stops after
-- max_rows locked rows. Left to the planner, a table whose statistics say
-- few rows are pending (a fresh table, or any table before autoanalyze
-- catches up with a burst) gets a bitmap scan that reads every pending
-- index entry, and the heap of every row claimed since the last vacuum, on
-- each claim: 490 ms a claim at 200,000 deliveries. With "ORDER BY id" the
-- planner chose bitmap scan plus sort instead, no better. A function's SET
-- clause is the one way to fix one statement's plan without touching the
-- session.
-- +goose StatementBegin
CREATE FUNCTION notification_claim_due(due_at timestamptz, max_rows integer)
RETURNS SETOF notification_deliveries
LANGUAGE sql
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_sort = off
AS $$
    WITH pending AS (
        SELECT id FROM notification_deliveries WHERE status = 'pending'
        ORDER BY id LIMIT max_rows FOR UPDATE SKIP LOCKED
    ), deferred AS (
        SELECT id FROM notification_deliveries WHERE status = 'deferred' AND not_before <= due_at
        ORDER BY not_before LIMIT greatest(max_rows - (SELECT count(*) FROM pending), 0) FOR UPDATE SKIP LOCKED
    )
    UPDATE notification_deliveries SET status = 'sending', claimed_at = due_at, attempts = attempts + 1
    WHERE id = ANY (ARRAY(SELECT id FROM pending UNION ALL SELECT id FROM deferred))
    RETURNING *
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION notification_claim_due(timestamptz, integer);
