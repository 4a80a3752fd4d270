-- +goose Up
-- When a delivery row was written, so retention can age every row (muted
-- and failed-before-sending rows have no sent/claimed time).
ALTER TABLE notification_deliveries ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- +goose Down
ALTER TABLE notification_deliveries DROP COLUMN created_at;
