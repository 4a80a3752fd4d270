package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/nettest"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// TestPoolTimeouts is issue 12 row 9 (database side): every connection
// carries the configured statement_timeout and lock_timeout, and a server
// that accepts TCP but never answers fails the connect within ConnectTimeout.
func TestPoolTimeouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := store.Open(ctx, storetest.URL(), store.PoolConfig{
		MaxConns: 2, ConnectTimeout: time.Second, StatementTimeout: 1500 * time.Millisecond, LockTimeout: 700 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var st, lt string
	require.NoError(t, pool.QueryRow(ctx, `SELECT current_setting('statement_timeout'), current_setting('lock_timeout')`).Scan(&st, &lt))
	require.Equal(t, "1500ms", st)
	require.Equal(t, "700ms", lt)

	// A server that accepts and never speaks: the startup never completes.
	hole := nettest.NewProxy(t, "127.0.0.1:1") // never dialled while black-holed
	hole.Blackhole(true)
	start := time.Now()
	_, err = store.Open(ctx, "postgres://postgres@"+hole.Addr()+"/test?sslmode=disable",
		store.PoolConfig{ConnectTimeout: 300 * time.Millisecond})
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second, "the connect gave up at its timeout, not the OS's")
}
