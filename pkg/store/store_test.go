package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

func TestWithTxCommitsAndRollsBack(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()

	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ('a', 'k')`)
		return err
	})
	require.NoError(t, err)

	boom := errors.New("boom")
	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ('b', 'k')`); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM commands`).Scan(&n))
	require.Equal(t, 1, n, "only the committed row remains")

	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ('a', 'k')`)
		return err
	})
	require.True(t, store.IsUniqueViolation(err, ""), "duplicate id is a unique violation: %v", err)
}

func TestSchemasAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := storetest.NewPool(t), storetest.NewPool(t)
	ctx := context.Background()
	_, err := a.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ('x', 'k')`)
	require.NoError(t, err)
	var n int
	require.NoError(t, b.QueryRow(ctx, `SELECT count(*) FROM commands`).Scan(&n))
	require.Zero(t, n)
}
