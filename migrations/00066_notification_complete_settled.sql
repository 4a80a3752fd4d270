-- +goose Up
-- Store.CompleteSettled runs through this function: a PL/pgSQL function keeps
-- its plan for the session, and its SET clause keeps that plan off a
-- sequential scan of notification_deliveries. Left to the planner, a
-- connection that first ran the statement while the table was empty and
-- freshly analyzed cached a plan that scanned every delivery for each
-- notification as the table grew; planning the statement at every call
-- instead (one per send batch) cost the push path about 4%. The condition is
-- Store's nothingLeftToSend, with OFFSET 0 so that it stays a subplan looked
-- up by each notification's id: as an anti join, a plan made while the table
-- looked empty read the whole deliveries index for every notification.
-- +goose StatementBegin
CREATE FUNCTION notification_complete_settled(p_ids uuid[], p_at timestamptz) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    affected bigint;
BEGIN
    UPDATE notifications n SET status = 'done', done_at = p_at
    WHERE n.id = ANY (p_ids) AND n.status = 'sending' AND NOT EXISTS (
        SELECT 1 FROM notification_deliveries d
        WHERE d.notification_id = n.id AND d.status IN ('pending', 'deferred', 'sending') OFFSET 0);
    GET DIAGNOSTICS affected = ROW_COUNT;
    RETURN affected;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION notification_complete_settled(uuid[], timestamptz);
