-- +goose Up
-- The receipts run completes notifications left "sending" after every
-- delivery settled (notification.Store.CompleteForgotten); this keeps it
-- from scanning every notification ever sent.
CREATE INDEX notifications_sending ON notifications (id) WHERE status = 'sending';

-- +goose Down
DROP INDEX notifications_sending;
