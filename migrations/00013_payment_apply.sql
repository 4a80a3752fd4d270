-- +goose Up
-- The inbox row is itself the unit of work of its applier (ARCHITECTURE.md
-- "Webhook deliveries take the shortest durable route"): the payments
-- applier claims unapplied rows (FOR UPDATE SKIP LOCKED) and marks them
-- applied in the transaction that applies them.
--   applied_at       set when applied (in the applying transaction)
--   attempts         failed apply attempts so far
--   last_error       why the last attempt failed (truncated)
--   next_attempt_at  not claimed again before this (backoff)
--   stuck_at         given up (deterministic error, or too many attempts):
--                    listed and retried by `fundigo payments stuck`
--   source_trusted   the sender was a trusted address when it was received
ALTER TABLE inbox
    ADD COLUMN applied_at      timestamptz,
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error      text,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN stuck_at        timestamptz,
    ADD COLUMN source_trusted  boolean     NOT NULL DEFAULT false;
UPDATE inbox i SET applied_at = c.applied_at FROM payment_callbacks c WHERE c.inbox_id = i.id;
-- What the applier claims, oldest first.
CREATE INDEX inbox_unapplied ON inbox (route, id) WHERE applied_at IS NULL AND stuck_at IS NULL;
CREATE INDEX inbox_stuck ON inbox (route, id) WHERE stuck_at IS NOT NULL AND applied_at IS NULL;

-- +goose Down
DROP INDEX inbox_stuck;
DROP INDEX inbox_unapplied;
ALTER TABLE inbox DROP COLUMN applied_at, DROP COLUMN attempts, DROP COLUMN last_error,
    DROP COLUMN next_attempt_at, DROP COLUMN stuck_at, DROP COLUMN source_trusted;
