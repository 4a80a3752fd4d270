-- +goose Up
-- Transactional outbox (pkg/outbox): rows are inserted in the transaction of
-- the change they describe and published to RabbitMQ by the relay, which
-- claims them with FOR UPDATE SKIP LOCKED so several relays never publish the
-- same row concurrently.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    message_id   text        NOT NULL UNIQUE,  -- AMQP MessageId; consumers dedupe on it
    exchange     text        NOT NULL,
    routing_key  text        NOT NULL,
    message_type text        NOT NULL DEFAULT '',
    content_type text        NOT NULL DEFAULT 'application/json',
    headers      jsonb       NOT NULL DEFAULT '{}',
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),  -- not retried before (backoff after a failed publish)
    published_at timestamptz,                         -- NULL until the broker confirmed it
    attempts     int         NOT NULL DEFAULT 0,      -- failed publish attempts
    last_error   text
);
-- What the relay scans: only unpublished rows, in insertion order.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
-- What retention (outbox.Cleanup) deletes.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relays when rows commit. Statement-level, and PostgreSQL folds
-- identical notifications of one transaction into one, so a transaction that
-- writes many events sends one NOTIFY (delivered only on commit).
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fundigo_outbox', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- +goose Down
DROP TABLE outbox;
DROP FUNCTION outbox_notify();
