-- +goose Up
-- Who may read GET /v1/tasks/{id}: services read every task; a user reads a
-- task only when recorded here as its principal or the user it acts for
-- (a payment's customer). Recorded when the command is accepted, before the
-- task exists; no row means services only.
CREATE TABLE task_owners (
    task_id    text        PRIMARY KEY,
    principal  text        NOT NULL,  -- who asked: a service key name or "user:<id>"
    user_id    text,                  -- the user it acts for, if any
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_owners_created_at ON task_owners (created_at);

-- +goose Down
DROP TABLE task_owners;
