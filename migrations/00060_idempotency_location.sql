-- +goose Up
-- A replayed answer carries the Location header of the original (every 202
-- names its status URL there), so the stored answer keeps it.
ALTER TABLE idempotency_keys ADD COLUMN location text;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN location;
