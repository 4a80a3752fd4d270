-- +goose Up
-- Durable webhook intake (pkg/inbox). A delivery is answered 200 only after
-- its raw bytes are committed here. An identical redelivery (same route,
-- natural key and body) hits the unique key and changes nothing.
CREATE TABLE inbox (
    id          bigserial   PRIMARY KEY,
    route       text        NOT NULL,  -- e.g. 'mpesa.stk'
    natural_key text        NOT NULL,  -- e.g. the CheckoutRequestID
    body_hash   bytea       NOT NULL,  -- sha256 of body
    body        bytea       NOT NULL,  -- the raw bytes, as received
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inbox_dedupe UNIQUE (route, natural_key, body_hash)
);
CREATE INDEX inbox_received_at ON inbox (received_at);

-- Bodies that could not be parsed: kept for an operator, never processed.
-- Capped by pkg/inbox (oldest rows deleted past the cap).
CREATE TABLE inbox_quarantine (
    id           bigserial   PRIMARY KEY,
    route        text        NOT NULL,
    reason       text        NOT NULL,
    content_type text        NOT NULL DEFAULT '',
    body         bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE inbox_quarantine;
DROP TABLE inbox;
