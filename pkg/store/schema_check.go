package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaBehind: the database lacks migrations this build needs. Roles
// refuse to start on it instead of failing later on a missing column.
var ErrSchemaBehind = errors.New("database schema is older than this build needs")

// CheckSchema returns ErrSchemaBehind (with the missing versions and what to
// run) unless every migration embedded in this binary is applied in the
// pool's schema. Migrations newer than the binary are fine: during a rolling
// deploy the old pods keep running after `migrate up` of the new release.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	sums, err := fileChecksums()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := pool.Query(ctx, `SELECT version_id FROM goose_db_version WHERE is_applied`)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: never migrated
			return fmt.Errorf("%w: no migration has been applied; run `fundigo migrate up` first", ErrSchemaBehind)
		}
		return fmt.Errorf("read schema version: %w", err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema version: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var missing []int64
	for v := range sums {
		if !applied[v] {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%w: %d migration(s) pending, first %05d, newest %05d; run `fundigo migrate up` (the migrations Job) before starting this release",
		ErrSchemaBehind, len(missing), missing[0], missing[len(missing)-1])
}
