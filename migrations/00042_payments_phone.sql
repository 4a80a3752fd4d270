-- +goose Up
-- The per-phone STK caps count a phone's recent payments on every create.
CREATE INDEX payments_phone_created ON payments (phone, created_at);

-- +goose Down
DROP INDEX payments_phone_created;
