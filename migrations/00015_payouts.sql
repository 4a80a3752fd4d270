-- +goose Up
-- B2C payouts to technicians (pkg/payout). Status moves only by conditional
-- updates in pkg/payout/store.go:
--   pending   -> submitted | unknown | failed
--   submitted -> succeeded | failed | unknown | needs_review
--   unknown   -> succeeded | failed | needs_review
--   succeeded | failed -> needs_review (conflicting evidence)
-- A payout is sent to Daraja at most once: submit_started_at is set, and
-- committed, before the request goes out; a payout found with it set and no
-- answer recorded is never sent again but settled by Transaction Status.
CREATE TABLE payouts (
    id                         uuid        PRIMARY KEY,
    technician_id              text        NOT NULL CHECK (technician_id <> '' AND char_length(technician_id) <= 128),
    job_id                     text        NOT NULL CHECK (job_id <> '' AND char_length(job_id) <= 128),
    phone                      text        NOT NULL CHECK (phone ~ '^254[17][0-9]{8}$'),
    amount                     bigint      NOT NULL CHECK (amount > 0),  -- whole KES
    remarks                    text        NOT NULL DEFAULT '',
    status                     text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'submitted', 'succeeded', 'failed', 'unknown', 'needs_review')),
    failure_reason             text,
    review_reason              text,
    result_code                text,
    result_desc                text,
    mpesa_receipt              text,
    originator_conversation_id text        NOT NULL UNIQUE,
    conversation_id            text,
    submit_started_at          timestamptz,
    submitted_at               timestamptz,
    completed_at               timestamptz,  -- TransactionCompletedDateTime (Kenya time)
    -- The last Transaction Status query sent for this payout (its own ids:
    -- the outer ids of its result).
    status_query_originator_id text,
    status_query_conversation_id text,
    status_query_sent_at       timestamptz,
    status_queries             integer     NOT NULL DEFAULT 0,
    next_query_at              timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
-- What payout reconciliation scans.
CREATE INDEX payouts_open ON payouts (next_query_at) WHERE status IN ('pending', 'submitted', 'unknown');
CREATE INDEX payouts_status_query ON payouts (status_query_originator_id) WHERE status_query_originator_id IS NOT NULL;
CREATE INDEX payouts_conversation ON payouts (conversation_id) WHERE conversation_id IS NOT NULL;

-- Balances reported by B2C results, for treasury alerts (newest last).
CREATE TABLE payout_balances (
    id                bigserial   PRIMARY KEY,
    payout_id         uuid        NOT NULL REFERENCES payouts (id),
    utility_cents     bigint,
    working_cents     bigint,
    charges_cents     bigint,
    reported_at       timestamptz NOT NULL DEFAULT now()
);

-- One ledger across channels, one row per M-Pesa receipt (STK
-- MpesaReceiptNumber = C2B TransID = B2C TransactionID): money in is owned
-- by a payment, money out by a payout.
ALTER TABLE payment_ledger
    ALTER COLUMN payment_id DROP NOT NULL,
    ALTER COLUMN checkout_request_id DROP NOT NULL,
    ADD COLUMN channel   text NOT NULL DEFAULT 'stk',
    ADD COLUMN payout_id uuid REFERENCES payouts (id);
ALTER TABLE payment_ledger ADD CONSTRAINT payment_ledger_channel_check
    CHECK (channel IN ('stk', 'c2b', 'b2c')) NOT VALID;
ALTER TABLE payment_ledger ADD CONSTRAINT payment_ledger_owner_check
    CHECK ((payment_id IS NULL) <> (payout_id IS NULL)) NOT VALID;
CREATE INDEX payment_ledger_payout ON payment_ledger (payout_id) WHERE payout_id IS NOT NULL;

-- Pay Bill payments: no STK push; the customer pays account_reference.
ALTER TABLE payments
    ADD COLUMN method            text NOT NULL DEFAULT 'stk',
    ADD COLUMN account_reference text;
ALTER TABLE payments ADD CONSTRAINT payments_method_check CHECK (method IN ('stk', 'paybill')) NOT VALID;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'awaiting_callback', 'awaiting_payment', 'paid', 'failed', 'needs_review')) NOT VALID;
CREATE INDEX payments_awaiting_account ON payments (account_reference) WHERE status = 'awaiting_payment';

-- C2B confirmations that matched no payment: money moved, never dropped;
-- listed and allocated by an operator (API and CLI).
CREATE TABLE unallocated_funds (
    trans_id             text        PRIMARY KEY,
    inbox_id             bigint      NOT NULL,
    bill_ref_number      text        NOT NULL,  -- as typed
    account_reference    text        NOT NULL,  -- trimmed, upper-cased
    amount_cents         bigint      NOT NULL,
    business_short_code  text        NOT NULL DEFAULT '',
    msisdn               text        NOT NULL DEFAULT '',  -- opaque (masked or hashed by Daraja)
    payer_name           text        NOT NULL DEFAULT '',
    trans_time           timestamptz,
    received_at          timestamptz NOT NULL DEFAULT now(),
    allocated_payment_id uuid        REFERENCES payments (id),
    allocated_at         timestamptz,
    allocated_by         text
);
CREATE INDEX unallocated_funds_open ON unallocated_funds (received_at) WHERE allocated_at IS NULL;

-- +goose Down
DROP TABLE unallocated_funds;
DROP INDEX payments_awaiting_account;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'awaiting_callback', 'paid', 'failed', 'needs_review')) NOT VALID;
ALTER TABLE payments DROP CONSTRAINT payments_method_check, DROP COLUMN account_reference, DROP COLUMN method;
DROP INDEX payment_ledger_payout;
ALTER TABLE payment_ledger DROP CONSTRAINT payment_ledger_owner_check, DROP CONSTRAINT payment_ledger_channel_check;
DELETE FROM payment_ledger WHERE payment_id IS NULL;
ALTER TABLE payment_ledger DROP COLUMN payout_id, DROP COLUMN channel,
    ALTER COLUMN payment_id SET NOT NULL;
UPDATE payment_ledger SET checkout_request_id = '' WHERE checkout_request_id IS NULL;
ALTER TABLE payment_ledger ALTER COLUMN checkout_request_id SET NOT NULL;
DROP TABLE payout_balances;
DROP TABLE payouts;
