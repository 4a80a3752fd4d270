package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/inbox"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

type testPool struct{ *pgxpool.Pool }

func newWriter(t *testing.T, cfg inbox.WriterConfig) (*inbox.Writer, testPool) {
	t.Helper()
	pool := storetest.NewPool(t)
	w, err := inbox.NewWriter(pool, cfg)
	require.NoError(t, err)
	return w, testPool{pool}
}

func entry(key, body string) inbox.Entry {
	return inbox.Entry{Route: "mpesa.stk", Key: key, Body: []byte(body), RoutingKey: "mpesa.stk.callback"}
}

func TestWriteGroupsConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{Window: 20 * time.Millisecond})
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	results := make([]inbox.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = w.Write(ctx, entry(fmt.Sprintf("ws_CO_%d", i), fmt.Sprintf(`{"n":%d}`, i)))
		}()
	}
	wg.Wait()
	ids := map[int64]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		require.False(t, results[i].Duplicate)
		ids[results[i].ID] = true
	}
	require.Len(t, ids, n)
	var rows, txns, notices int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM inbox`).Scan(&rows, &txns))
	require.Equal(t, n, rows)
	require.Less(t, txns, n/4, "concurrent deliveries share commits")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE message_id LIKE 'inbox:%' AND routing_key = 'mpesa.stk.callback'`).Scan(&notices))
	require.Equal(t, n, notices)
}

func TestWriteIdenticalRedeliveryIsNoOp(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{})
	ctx := context.Background()
	first, err := w.Write(ctx, entry("ws_CO_1", `{"a":1}`))
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	again, err := w.Write(ctx, entry("ws_CO_1", `{"a":1}`))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, first.ID, again.ID)
	other, err := w.Write(ctx, entry("ws_CO_1", `{"a": 1}`)) // same key, different bytes
	require.NoError(t, err)
	require.False(t, other.Duplicate)
	require.NotEqual(t, first.ID, other.ID)

	// Identical deliveries inside one batch.
	var wg sync.WaitGroup
	res := make([]inbox.Result, 8)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.Write(ctx, entry("ws_CO_2", `{"b":2}`))
			require.NoError(t, err)
			res[i] = r
		}()
	}
	wg.Wait()
	dups := 0
	for _, r := range res {
		require.Equal(t, res[0].ID, r.ID)
		if r.Duplicate {
			dups++
		}
	}
	require.Equal(t, len(res)-1, dups)

	var rows, notices int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&rows))
	require.Equal(t, 3, rows)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&notices))
	require.Equal(t, 3, notices)

	row, err := inbox.Get(ctx, pool, first.ID)
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, string(row.Body))
	require.Equal(t, "ws_CO_1", row.Key)
	_, err = inbox.Get(ctx, pool, 999999)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestWriteFailsWhenCommitFails(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{})
	ctx := context.Background()
	_, err := pool.Exec(ctx, `ALTER TABLE inbox ADD CONSTRAINT no_writes CHECK (false) NOT VALID`)
	require.NoError(t, err)
	_, err = w.Write(ctx, entry("ws_CO_1", `{}`))
	require.Error(t, err)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n))
	require.Zero(t, n)
}

func TestQuarantineIsCapped(t *testing.T) {
	t.Parallel()
	_, pool := newWriter(t, inbox.WriterConfig{})
	ctx := context.Background()
	for i := range 5 {
		require.NoError(t, inbox.Quarantine(ctx, pool.Pool, 3, "mpesa.stk", "invalid json", "application/json", []byte(fmt.Sprint(i))))
	}
	big := make([]byte, inbox.MaxQuarantineBody+10)
	require.NoError(t, inbox.Quarantine(ctx, pool.Pool, 3, "mpesa.stk", "too big", "", big))
	rows, err := inbox.ListQuarantine(ctx, pool.Pool, 10)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Len(t, rows[0].Body, inbox.MaxQuarantineBody)
	require.Equal(t, "4", string(rows[1].Body))
	require.Equal(t, "3", string(rows[2].Body))
}

func TestCleanupKeepsUnpublished(t *testing.T) {
	t.Parallel()
	w, pool := newWriter(t, inbox.WriterConfig{})
	ctx := context.Background()
	a, err := w.Write(ctx, entry("a", `{}`))
	require.NoError(t, err)
	b, err := w.Write(ctx, entry("b", `{}`))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE inbox SET received_at = now() - interval '2 days', applied_at = now()`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE message_id = $1`, inbox.MessageID(a.ID))
	require.NoError(t, err)
	n, err := inbox.Cleanup(ctx, pool.Pool, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	_, err = inbox.Get(ctx, pool, b.ID)
	require.NoError(t, err)
}
