package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// MigrateLockWait bounds how long `migrate up` waits for another run holding
// the migration lock of the same schema (a second Job, a rolling `all`).
const MigrateLockWait = 10 * time.Minute

// lock takes goose's PostgreSQL session advisory lock on a dedicated
// connection, so concurrent `migrate up`/`down` runs against one schema
// serialise: the second waits, then finds nothing pending. The lock id is
// derived from the schema (current_schema()), so runs against different
// schemas of one database (tests, tenants) do not wait for each other.
// The lock is session-level: run migrations against PostgreSQL directly,
// never through PgBouncer in transaction mode.
func (m *Migrator) lock(ctx context.Context) (unlock func() error, err error) {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: connect: %w", err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migration lock: current schema: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrateLockID(schema)),
		lock.WithLockTimeout(1, uint64(MigrateLockWait/time.Second)),
	)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := locker.SessionLock(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migration lock on schema %q (another migrate run holds it): %w", schema, err)
	}
	return func() error {
		uctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := locker.SessionUnlock(uctx, conn)
		// Closing the session releases the lock even if the unlock failed.
		return errors.Join(err, conn.Close())
	}, nil
}

// migrateLockID is a stable advisory-lock key per schema, kept apart from
// goose's default id so a plain `goose` CLI run and ours still exclude each
// other only per schema.
func migrateLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("fundigo-migrate:" + schema))
	return int64(h.Sum64() & 0x7fffffffffffffff)
}
