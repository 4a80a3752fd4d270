package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

func TestMigrateRefusesAnEditedAppliedMigration(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t) // migrated, checksums recorded
	ctx := context.Background()
	m, err := store.NewMigrator(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Up(ctx), "nothing changed: up is a no-op")

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM fundigo_migration_checksums`).Scan(&n))
	require.Positive(t, n)

	// Simulate the file having changed since it ran on this database.
	_, err = pool.Exec(ctx, `UPDATE fundigo_migration_checksums SET sha256 = 'edited' WHERE version = 1`)
	require.NoError(t, err)
	err = m.Up(ctx)
	require.ErrorIs(t, err, store.ErrMigrationChanged)
	require.Contains(t, err.Error(), "00001")

	// Without a record (a database migrated before checksums existed) the
	// current file is trusted and recorded.
	_, err = pool.Exec(ctx, `DELETE FROM fundigo_migration_checksums WHERE version = 1`)
	require.NoError(t, err)
	require.NoError(t, m.Up(ctx))

	// Rolling back forgets the checksum of what is no longer applied, so the
	// file may be edited before it is applied again.
	var newest int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(version) FROM fundigo_migration_checksums`).Scan(&newest))
	require.NoError(t, m.Down(ctx))
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM fundigo_migration_checksums WHERE version = $1`, newest).Scan(&left))
	require.Zero(t, left)
	require.NoError(t, m.Up(ctx))
}
