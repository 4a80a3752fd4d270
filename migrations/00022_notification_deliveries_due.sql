-- +goose Up
-- The sender loop claims pending deliveries of any notification, oldest
-- first (Store.ClaimDue); the claim index is per notification.
CREATE INDEX notification_deliveries_due ON notification_deliveries (id) WHERE status = 'pending';

-- +goose Down
DROP INDEX notification_deliveries_due;
