-- +goose Up
-- The sender loop claims pending deliveries of any notification, oldest
-- first (Store.ClaimDue); the claim index is per notification.
CREATE INDEX notification_deliveries_due ON notification_deliveries (id) WHERE status = 'pending';
-- Its fan-out loop takes queued notifications oldest first (Store.LockQueued).
CREATE INDEX notifications_queued ON notifications (created_at) WHERE status = 'queued';

-- +goose Down
DROP INDEX notifications_queued;
DROP INDEX notification_deliveries_due;
