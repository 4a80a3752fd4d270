package payment_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/payment"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// TestLookupsByIDUseThePrimaryKey is issue #12 row 6: every read or update
// of a payment by id binds a typed uuid, so PostgreSQL uses the primary key
// index instead of scanning (WHERE id::text = $1 scanned every row).
func TestLookupsByIDUseThePrimaryKey(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO payments (id, job_id, customer_id, phone, amount)
		SELECT gen_random_uuid(), 'j' || g, 'c', '254700000001', 10 FROM generate_series(1, 2000) g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE payments`)
	require.NoError(t, err)
	id := uuid.New()
	for name, q := range map[string]string{
		"get":        `SELECT * FROM payments WHERE id = $1`,
		"transition": `UPDATE payments SET updated_at = now() WHERE id = $1 AND status = ANY('{pending}'::text[])`,
		"ledger":     `SELECT count(*) FROM payment_ledger WHERE payment_id = $1`,
	} {
		rows, err := pool.Query(ctx, "EXPLAIN "+q, id)
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		text := strings.Join(plan, "\n")
		require.NotContains(t, text, "Seq Scan", "%s: %s", name, text)
		require.Contains(t, text, "Index", "%s: %s", name, text)
	}
	// The store's own queries: the table's scan counters show index scans
	// and not one sequential scan (id::text = $1 scanned the whole table).
	ps := payment.NewStore(pool)
	created, err := ps.Create(ctx, payment.New{ID: id.String(), JobID: "j", CustomerID: "c", Phone: "254700000001",
		Amount: 10, CreatedAt: time.Now()})
	require.NoError(t, err)
	scans := func() (seq, idx int64) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables
			WHERE relid = 'payments'::regclass`).Scan(&seq, &idx))
		return seq, idx
	}
	// (The schema's migrations report a few scans late: compare with the
	// number of lookups, not with zero.)
	const lookups = 40
	seq0, idx0 := scans()
	for range lookups / 2 {
		got, err := ps.Get(ctx, created.ID)
		require.NoError(t, err)
		require.Equal(t, id.String(), got.ID)
		require.NoError(t, ps.TouchQueried(ctx, created.ID, time.Now()))
	}
	require.Eventually(t, func() bool { _, idx := scans(); return idx >= idx0+lookups }, 10*time.Second, 50*time.Millisecond,
		"every lookup is an index scan")
	seq1, _ := scans()
	require.Less(t, seq1-seq0, int64(lookups/4), "lookups do not scan payments sequentially")
	_, err = ps.CountReceipts(ctx, created.ID)
	require.NoError(t, err)
	for _, bad := range []string{"", "not-a-uuid", strings.Repeat("a", 5000), id.String() + "x", "{" + id.String() + "}"} {
		_, err := ps.Get(ctx, bad)
		require.ErrorIs(t, err, store.ErrNotFound, fmt.Sprintf("%.20q", bad))
	}
}
