// Package store is the state of record in PostgreSQL: the pgx pool, the
// transaction helper, the sentinels callers branch on, and one file of
// hand-written queries per table. Conditional state transitions live here
// (UPDATE … WHERE status = …) so every caller gets the same rules.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/outcome"
)

// Sentinels for outcomes callers branch on (STYLE.md rule 18).
var (
	// ErrNotFound: the row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrStaleTransition: a conditional update matched nothing because the row
	// is no longer in the expected state; for an idempotent handler this means
	// "already done" (it wraps outcome.ErrAlreadyDone, so the worker
	// classifier acknowledges it on both transports).
	ErrStaleTransition = fmt.Errorf("stale state transition (%w)", outcome.ErrAlreadyDone)
	// ErrConflict: a unique key is already taken by a different row.
	ErrConflict = errors.New("conflict")
)

// PoolConfig sizes the pool and bounds its waits; zero values keep pgx's and
// the server's defaults (no bound), which `fundigo migrate` relies on.
type PoolConfig struct {
	MaxConns int32
	// ConnectTimeout bounds establishing one connection (dial, TLS, startup),
	// so a black-holed server fails a request instead of hanging it.
	ConnectTimeout time.Duration
	// StatementTimeout and LockTimeout become the session's statement_timeout
	// and lock_timeout on every connection: the server cancels a statement
	// running (or waiting for a lock) longer, so no request or task holds a
	// connection forever. A value set in the URL's options wins.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// Tracer, if set, also traces every connection (otelpgx); it is
	// combined with the pool-wait tracer WatchPoolWaits relies on, never
	// instead of it.
	Tracer pgx.QueryTracer
}

// NewPoolConfig parses url and applies cfg. The parse error may echo the
// URL (with its password): callers that log it should replace it.
func NewPoolConfig(url string, cfg PoolConfig) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	for name, d := range map[string]time.Duration{"statement_timeout": cfg.StatementTimeout, "lock_timeout": cfg.LockTimeout} {
		if _, set := pc.ConnConfig.RuntimeParams[name]; !set && d > 0 {
			pc.ConnConfig.RuntimeParams[name] = strconv.FormatInt(d.Milliseconds(), 10) // ms
		}
	}
	pc.ConnConfig.Tracer = poolWaitTracer{}
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = multitracer.New(poolWaitTracer{}, cfg.Tracer)
	}
	return pc, nil
}

// Open connects a pool and checks it with a ping.
func Open(ctx context.Context, url string, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := NewPoolConfig(url, cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// TxBeginner is satisfied by *pgxpool.Pool and pgx.Tx (nested: savepoint).
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise (also on panic, which is re-raised).
func WithTx(ctx context.Context, db TxBeginner, fn func(pgx.Tx) error) (err error) {
	begun, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin tx: %w", err)
	}
	tx := &hookedTx{Tx: begun}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit tx: %w", err)
	}
	return afterCommit(ctx, db, tx.channels)
}

// afterCommit sends the notifications a committed WithTx transaction asked
// for: through the pool, after the commit; or, for a transaction nested in
// another (a savepoint), as the outer transaction's own request.
func afterCommit(ctx context.Context, db TxBeginner, channels []string) error {
	for _, ch := range channels {
		switch outer := db.(type) {
		case pgx.Tx:
			if err := NotifyOnCommit(ctx, outer, ch); err != nil {
				return err
			}
		case Execer:
			Notify(outer, ch)
		}
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// IsDeterministic reports whether err is a database error that the same
// statement with the same input would raise again, so retrying it cannot
// help (SQLSTATE classes 22, 23 and 54). It is outcome.DeterministicSQL, the
// rule the worker classifier applies on every transport; workers treat such
// an error as permanent.
func IsDeterministic(err error) bool { return outcome.DeterministicSQL(err) }
