-- +goose Up
-- The technician of the payment's job, when the caller knows it, so the
-- payment.paid event can tell the technician the job is funded. NULL means
-- not given (the API stores an empty or blank id as NULL).
ALTER TABLE payments ADD COLUMN technician_id text;
-- Every existing row is NULL and satisfies the check, so NOT VALID skips a
-- full scan of payments under the ACCESS EXCLUSIVE lock; new writes are
-- checked all the same.
ALTER TABLE payments ADD CONSTRAINT payments_technician_id_check
    CHECK (technician_id <> '' AND char_length(technician_id) <= 128) NOT VALID;

-- +goose Down
ALTER TABLE payments DROP COLUMN technician_id;
