-- +goose Up
-- One row per declared cron schedule: its definition as the leading scheduler
-- last declared it, what the scheduler did at its last tick, and how the last
-- run of its task went (written by the worker's scheduler middleware).
CREATE TABLE schedules (
    name               text        PRIMARY KEY,
    spec               text        NOT NULL,
    time_zone          text        NOT NULL,
    task_type          text        NOT NULL,
    queue              text        NOT NULL,
    timeout_ms         bigint      NOT NULL,
    max_retry          int         NOT NULL,
    overlap            text        NOT NULL CHECK (overlap IN ('skip', 'queue')),
    missed             text        NOT NULL CHECK (missed IN ('run_once', 'skip')),
    handler_registered boolean     NOT NULL DEFAULT false,
    -- created_at is the baseline for missed ticks before the first tick.
    created_at         timestamptz NOT NULL,
    declared_at        timestamptz NOT NULL,
    next_run           timestamptz,
    -- last_tick only moves forward, so a late replica cannot rewind it.
    last_tick          timestamptz,
    last_enqueued_at   timestamptz,
    last_task_id       text,
    last_outcome       text        CHECK (last_outcome IN
                           ('enqueued', 'skipped_overlap', 'skipped_missed', 'duplicate', 'error')),
    last_error         text,
    last_run_task_id   text,
    last_run_started_at timestamptz,
    last_run_status    text        CHECK (last_run_status IN ('running', 'succeeded', 'failed')),
    last_duration_ms   bigint,
    last_run_error     text
);

-- +goose Down
DROP TABLE schedules;
