-- +goose Up
-- STK Push payments. Status moves only by conditional updates in
-- pkg/store/payments.go:
--   pending -> awaiting_callback | failed
--   awaiting_callback -> paid | failed | needs_review
--   failed -> needs_review (a success after a failure)
--   paid -> needs_review (a second, different receipt)
CREATE TABLE payments (
    id                  uuid        PRIMARY KEY,
    job_id              text        NOT NULL,
    customer_id         text        NOT NULL,
    phone               text        NOT NULL CHECK (phone ~ '^254[17][0-9]{8}$'),
    amount              bigint      NOT NULL CHECK (amount > 0),  -- whole KES
    description         text        NOT NULL DEFAULT '',
    status              text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'awaiting_callback', 'paid', 'failed', 'needs_review')),
    failure_reason      text,
    review_reason       text,
    result_code         text,
    result_desc         text,
    mpesa_receipt       text,
    merchant_request_id text,
    checkout_request_id text        UNIQUE,
    -- The push timed out after it was sent: Daraja may have prompted the
    -- customer, and we have no CheckoutRequestID to query with.
    push_ambiguous      boolean     NOT NULL DEFAULT false,
    -- Set just before the STK request is sent. A task that finds it set on a
    -- pending payment cannot know whether the push went out (crash, lost DB
    -- write) and must not send it again.
    push_started_at     timestamptz,
    pushed_at           timestamptz,
    last_queried_at     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- What reconciliation scans.
CREATE INDEX payments_open ON payments (created_at) WHERE status IN ('pending', 'awaiting_callback');

-- Money that moved, one row per M-Pesa receipt: however many callbacks (STK,
-- duplicates, C2B) report a receipt, it is credited once.
CREATE TABLE payment_ledger (
    mpesa_receipt       text        PRIMARY KEY,
    payment_id          uuid        NOT NULL REFERENCES payments (id),
    checkout_request_id text        NOT NULL,
    amount_cents        bigint      NOT NULL,
    transaction_date    timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_ledger_payment ON payment_ledger (payment_id);

-- Every callback the payments worker applied, keyed by its inbox row, so
-- applying the same delivery twice (RabbitMQ redelivery, a crash before the
-- ack) changes nothing the second time.
CREATE TABLE payment_callbacks (
    inbox_id            bigint      PRIMARY KEY,
    checkout_request_id text        NOT NULL,
    payment_id          uuid        REFERENCES payments (id),  -- NULL while an orphan
    result_code         text        NOT NULL,
    outcome             text        NOT NULL,  -- what applying it did
    applied_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_callbacks_checkout ON payment_callbacks (checkout_request_id);

-- Callbacks for a CheckoutRequestID we did not know (yet): the callback can
-- beat our own write of the id. Matched when the payment shows up, reported
-- by reconciliation if it never does.
CREATE TABLE payment_orphans (
    inbox_id            bigint      PRIMARY KEY,
    checkout_request_id text        NOT NULL,
    body                bytea       NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    matched_payment_id  uuid        REFERENCES payments (id),
    matched_at          timestamptz,
    reported_at         timestamptz
);
CREATE INDEX payment_orphans_open ON payment_orphans (checkout_request_id) WHERE matched_at IS NULL;

-- +goose Down
DROP TABLE payment_orphans;
DROP TABLE payment_callbacks;
DROP TABLE payment_ledger;
DROP TABLE payments;
