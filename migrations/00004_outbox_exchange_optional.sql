-- +goose Up
-- The relay publishes every outbox row to the exchange it was built with
-- (outbox.RelayConfig.Exchange, FUNDIGO_AMQP_EXCHANGE); writers no longer
-- name one, so new rows leave the column NULL. It stays (nullable) for a
-- rolling upgrade: a relay built before this change cannot scan a NULL
-- exchange, so it leaves such rows to the new relays instead of publishing
-- them to the wrong exchange.
ALTER TABLE outbox ALTER COLUMN exchange DROP NOT NULL;

-- +goose Down
-- Rows written meanwhile get the default events exchange (events.Exchange).
UPDATE outbox SET exchange = 'fundigo.events' WHERE exchange IS NULL;
ALTER TABLE outbox ALTER COLUMN exchange SET NOT NULL;
