-- +goose Up
-- The in-flight claim of an idempotency key has an owner (a random token of
-- the request holding it) and a lease the owner keeps extending while it
-- runs. Another request may take the key over only once the lease has lapsed
-- (its owner crashed), and only the owner may store or release the claim, so
-- a slow request is never run twice and never overwrites another's answer.
-- Rows claimed before this migration (owner NULL) keep the old rule: stale
-- 30 seconds after created_at.
ALTER TABLE idempotency_keys
    ADD COLUMN owner       uuid,
    ADD COLUMN lease_until timestamptz;

-- +goose Down
ALTER TABLE idempotency_keys
    DROP COLUMN lease_until,
    DROP COLUMN owner;
