-- +goose Up
-- The cursor-paginated lists (pkg/cursor): each is ordered newest first with
-- the id as tiebreak, so each filter has an index in that order and a page
-- is one index range scan whatever its depth.
CREATE INDEX payments_job_list ON payments (job_id, created_at DESC, id DESC);
CREATE INDEX payments_customer_list ON payments (customer_id, created_at DESC, id DESC);
CREATE INDEX devices_user_list ON devices (user_id, created_at DESC, token DESC);
CREATE INDEX reviews_technician_list ON reviews (technician_id, created_at DESC, id DESC);
-- A user's notifications: user_ids @> ARRAY[user].
CREATE INDEX notifications_user_ids ON notifications USING gin (user_ids);

-- +goose Down
DROP INDEX notifications_user_ids;
DROP INDEX reviews_technician_list;
DROP INDEX devices_user_list;
DROP INDEX payments_customer_list;
DROP INDEX payments_job_list;
