package payment_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
)

// TestReceiptLookupStaysAnIndexLookupAsTheLedgerGrows: the applier asks,
// per batch, which of its receipts the ledger already holds. A plan cached
// while the ledger was empty (a fresh deployment, a benchmark's schema) was a
// sequential scan, kept by the connection as the ledger grew: 20–65 ms per
// batch at 40,000 rows, the applier's whole budget. The lookup is planned
// for the ledger as it is now.
func TestReceiptLookupStaysAnIndexLookupAsTheLedgerGrows(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := t.Context()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	ps := payment.NewStore(conn)

	receipts := make([]string, 100)
	for i := range receipts {
		receipts[i] = fmt.Sprintf("R%09d", i*7)
	}
	_, err = conn.Exec(ctx, `ANALYZE payment_ledger`) // as autovacuum may, before the first payment
	require.NoError(t, err)
	for range 8 { // past PostgreSQL's five custom plans: a generic plan would be cached now
		owners, err := ps.ReceiptOwners(ctx, receipts)
		require.NoError(t, err)
		require.Empty(t, owners)
	}
	id := uuid.New()
	_, err = conn.Exec(ctx, `INSERT INTO payments (id, job_id, customer_id, phone, amount) VALUES ($1, 'j', 'c', '254700000001', 10)`, id)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO payment_ledger (mpesa_receipt, payment_id, checkout_request_id, amount_cents)
		SELECT 'R' || lpad(g::text, 9, '0'), $1, 'ws_CO_' || g, 1000 FROM generate_series(1, 40000) g`, id)
	require.NoError(t, err)

	before := storetest.TuplesRead(t, conn, "payment_ledger")
	owners, err := ps.ReceiptOwners(ctx, receipts)
	require.NoError(t, err)
	require.Len(t, owners, 99, "every receipt but R000000000 is in the ledger")
	require.Equal(t, id.String(), owners["R000000007"])
	require.Less(t, storetest.TuplesRead(t, conn, "payment_ledger")-before, int64(1000), "index entries and rows read to look up 100 receipts among 40,000")
}
