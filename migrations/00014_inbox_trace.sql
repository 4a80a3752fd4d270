-- +goose Up
-- The W3C trace context (traceparent, tracestate, baggage as a JSON object)
-- of the request that delivered a webhook, so the applier continues the
-- delivery's trace (pkg/tracing). NULL when the delivery was not traced.
ALTER TABLE inbox ADD COLUMN trace_context jsonb;

-- +goose Down
ALTER TABLE inbox DROP COLUMN trace_context;
