package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxPostgresConns caps the baseline's pool: PostgreSQL's default
// max_connections is 100 and the system under test needs its own. Workers
// beyond the cap wait for a connection, as the system's handlers would.
const MaxPostgresConns = 64

// PostgresCommit measures the raw single-row commit rate: each operation is
// one autocommitted INSERT of a rowBytes body into a scratch table (in a
// scratch schema, dropped afterwards), on a pool of opts.Concurrency
// connections (at most MaxPostgresConns). Every operation waits for its own commit (and fsync, with the
// server's synchronous_commit), which is the ceiling durable intake would
// have without group commit.
func PostgresCommit(ctx context.Context, dbURL string, rowBytes int, opts Options) (Result, error) {
	const name = "baseline.pg_commit"
	schema := ScratchName("bench")
	conns := min(opts.Concurrency, MaxPostgresConns)
	pool, cleanup, err := scratchPool(ctx, dbURL, schema, int32(conns))
	if err != nil {
		return Result{Name: name}, err
	}
	defer cleanup()
	if _, err := pool.Exec(ctx, `CREATE TABLE rows (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		body bytea NOT NULL,
		received_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return Result{Name: name}, fmt.Errorf("create scratch table: %w", err)
	}
	body := payload(rowBytes)
	res, err := Run(ctx, name, opts, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `INSERT INTO rows (body) VALUES ($1)`, body)
		return err
	})
	res.Unit = "commit"
	res.Note = fmt.Sprintf("one autocommitted %d-byte INSERT per operation, %d connections", rowBytes, conns)
	return res, err
}

// scratchPool creates schema and returns a pool of maxConns connections
// whose search_path is that schema; cleanup drops the schema.
func scratchPool(ctx context.Context, dbURL, schema string, maxConns int32) (*pgxpool.Pool, func(), error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database url: invalid")
	}
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, nil, fmt.Errorf("create scratch schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dbURL); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			_ = c.Close(ctx)
		}
	}
	pc.MaxConns = max(maxConns, 1)
	pc.MinConns = pc.MaxConns
	pc.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("open scratch pool: %w", err)
	}
	return pool, func() { pool.Close(); drop() }, nil
}
