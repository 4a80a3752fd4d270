-- +goose Up
-- Idempotency keys: one stored response per (scope, key). A replay with the
-- same request hash returns the stored response; a different hash is a conflict.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status_code  int,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Accepted commands: what GET /v1/tasks/{id} reports for work that is not a
-- single Asynq task (or to give a stable id before the task exists).
CREATE TABLE commands (
    id          text        PRIMARY KEY,
    kind        text        NOT NULL,
    state       text        NOT NULL DEFAULT 'accepted',
    progress    jsonb,
    result      jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE commands;
DROP TABLE idempotency_keys;
