package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// TestIsDeterministic checks the classification on errors raised by the real
// server, wrapped as callers wrap them.
func TestIsDeterministic(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE det (k text PRIMARY KEY, n int CHECK (n > 0), v varchar(3))`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO det (k, n) VALUES ('a', 1)`)
	require.NoError(t, err)
	long := make([]byte, 3000)
	_, _ = rand.Read(long)
	deterministic := map[string]string{
		"NUL in text (22021)":   `INSERT INTO det (k, n) VALUES (E'b' || chr(0), 1)`,
		"value too long":        `INSERT INTO det (k, n, v) VALUES ('c', 1, 'abcd')`,
		"bad number (22P02)":    `SELECT 'x'::int`,
		"unique (23505)":        `INSERT INTO det (k, n) VALUES ('a', 1)`,
		"check (23514)":         `INSERT INTO det (k, n) VALUES ('d', -1)`,
		"division by zero (22)": `SELECT 1/0`,
	}
	for name, sql := range deterministic {
		_, err := pool.Exec(ctx, sql)
		require.Error(t, err, name)
		require.True(t, store.IsDeterministic(fmt.Errorf("wrapped: %w", err)), "%s: %v", name, err)
	}
	// An incompressible key over the btree limit: the inbox's 5,000-character id.
	_, err = pool.Exec(ctx, `INSERT INTO det (k, n) VALUES ($1, 1)`, hex.EncodeToString(long))
	require.Error(t, err)
	require.True(t, store.IsDeterministic(err), "index row too large: %v", err)

	transient := map[string]error{
		"plain error": errors.New("connection reset by peer"),
		"ctx":         context.DeadlineExceeded,
		"nil":         nil,
	}
	_, err = pool.Exec(ctx, `SELECT * FROM no_such_table`)
	require.Error(t, err)
	transient["undefined table (42P01)"] = err
	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '1ms'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_sleep(1)`)
		return err
	})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "57014"), err.Error())
	transient["statement timeout (57014)"] = err
	for name, err := range transient {
		require.False(t, store.IsDeterministic(err), name)
	}
}
