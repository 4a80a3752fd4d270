package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
)

// Orphans past retention go; beyond the cap the oldest go whatever their
// age, matched ones first.
func TestCleanupOrphansRetentionAndCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	_, err := pool.Exec(ctx, `INSERT INTO payment_orphans (inbox_id, checkout_request_id, body, received_at, matched_at) VALUES
		(1, 'old', '\x00', now() - interval '40 days', NULL),
		(2, 'a', '\x00', now() - interval '4 hours', NULL),
		(3, 'b-matched', '\x00', now() - interval '1 hours', now()),
		(4, 'c', '\x00', now() - interval '3 hours', NULL),
		(5, 'd', '\x00', now() - interval '2 hours', NULL)`)
	require.NoError(t, err)

	n, err := payment.CleanupOrphans(ctx, pool, 30*24*time.Hour, 100, 1)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "only the one past retention")

	n, err = payment.CleanupOrphans(ctx, pool, 30*24*time.Hour, 2, 1)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	rows, err := pool.Query(ctx, `SELECT checkout_request_id FROM payment_orphans ORDER BY inbox_id`)
	require.NoError(t, err)
	var kept []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		kept = append(kept, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"c", "d"}, kept, "the newest unmatched stay; the matched one goes first")
}
