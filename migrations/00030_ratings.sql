-- +goose Up
-- Ratings domain (issue 5). Technician, job and customer ids belong to the
-- Django app and arrive as opaque strings. technician_id uses the "C"
-- collation everywhere so keyset batches order bytewise, exactly as Go
-- compares strings, and never depend on the database's locale.

-- One review per job; the unique job_id makes a replayed review a no-op.
CREATE TABLE reviews (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id        text        NOT NULL CHECK (job_id <> '' AND char_length(job_id) <= 128),
    technician_id text        COLLATE "C" NOT NULL
                              CHECK (technician_id <> '' AND char_length(technician_id) <= 128),
    customer_id   text        NOT NULL CHECK (customer_id <> '' AND char_length(customer_id) <= 128),
    rating        smallint    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment       text        NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2000),
    category      text        COLLATE "C" NOT NULL DEFAULT '' CHECK (char_length(category) <= 64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reviews_job_id_key UNIQUE (job_id)
);
-- Covering index: every aggregate the recompute needs is answered by an
-- index-only range scan in technician_id order (keyset batches, GroupAggregate).
CREATE INDEX reviews_technician_id ON reviews (technician_id) INCLUDE (rating, created_at, category);

-- Aggregates per technician. mean and bayesian_average are numeric rounded
-- half away from zero to 4 decimals (Postgres round(numeric, 4)).
CREATE TABLE technician_ratings (
    technician_id    text          COLLATE "C" PRIMARY KEY,
    review_count     integer       NOT NULL CHECK (review_count > 0),
    rating_sum       bigint        NOT NULL,
    mean             numeric(6, 4) NOT NULL,
    bayesian_average numeric(6, 4) NOT NULL,
    d1               integer       NOT NULL DEFAULT 0,
    d2               integer       NOT NULL DEFAULT 0,
    d3               integer       NOT NULL DEFAULT 0,
    d4               integer       NOT NULL DEFAULT 0,
    d5               integer       NOT NULL DEFAULT 0,
    -- Distinct non-empty review categories, sorted (C collation): a technician
    -- appears in the top list of every category it has been reviewed in.
    categories       text[]        COLLATE "C" NOT NULL DEFAULT '{}',
    last_review_at   timestamptz   NOT NULL,
    updated_at       timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX technician_ratings_top ON technician_ratings (bayesian_average DESC, review_count DESC, technician_id);
CREATE INDEX technician_ratings_categories ON technician_ratings USING gin (categories);

-- The global mean m of the Bayesian average, refreshed by the full recompute
-- (a single row). Incremental recomputes read it.
CREATE TABLE rating_globals (
    singleton     boolean       PRIMARY KEY DEFAULT true CHECK (singleton),
    global_mean   numeric(6, 4) NOT NULL,
    review_count  bigint        NOT NULL,
    rating_sum    bigint        NOT NULL,
    refreshed_at  timestamptz   NOT NULL DEFAULT now()
);

-- Full recompute runs. The cursor is the last technician_id of the
-- contiguous prefix of committed keyset batches; it advances right after
-- each batch commits. A run that dies resumes after the cursor with the same
-- global mean and prior weight; a batch that committed without its advance
-- is redone, which is idempotent (nothing changed, nothing written).
CREATE TABLE rating_recompute_runs (
    id                     uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    status                 text          NOT NULL DEFAULT 'running'
                                         CHECK (status IN ('running', 'finished', 'failed')),
    cursor_technician_id   text          COLLATE "C" NOT NULL DEFAULT '',
    global_mean            numeric(6, 4) NOT NULL,
    prior_weight           integer       NOT NULL,
    batch_size             integer       NOT NULL,
    total_reviews          bigint        NOT NULL,
    processed_reviews      bigint        NOT NULL DEFAULT 0,
    processed_technicians  bigint        NOT NULL DEFAULT 0,
    changed_technicians    bigint        NOT NULL DEFAULT 0,
    batches                integer       NOT NULL DEFAULT 0,
    resumes                integer       NOT NULL DEFAULT 0,
    task_id                text          NOT NULL DEFAULT '',
    error                  text          NOT NULL DEFAULT '',
    started_at             timestamptz   NOT NULL DEFAULT now(),
    updated_at             timestamptz   NOT NULL DEFAULT now(),
    finished_at            timestamptz
);
-- At most one unfinished run: a second trigger resumes it instead of racing it.
CREATE UNIQUE INDEX rating_recompute_runs_one_running ON rating_recompute_runs ((true)) WHERE status = 'running';

-- +goose Down
DROP TABLE rating_recompute_runs;
DROP TABLE rating_globals;
DROP TABLE technician_ratings;
DROP TABLE reviews;
