package payment_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/payment"
	"fundigo/pkg/payment/paymenttest"
	"fundigo/pkg/store/storetest"
)

// oneMillion is the scale issue #12 asks GET /v1/payments/{id} to
// hold at; the latency itself is a benchmark figure
// (BenchmarkGetPaymentAtOneMillion in api, docs/BENCHMARKS.md), not a test
// threshold, because this machine is shared.
const oneMillion = 1_000_000

// TestLookupsByIDAtOneMillionPayments is issue #12 row 6 at the scale the
// issue names: with a million payments, the plan of every by-id statement
// the store runs is an index scan on the primary key, reading a handful of
// buffers, and the store's own lookups leave the table's sequential-scan
// counter where it was.
func TestLookupsByIDAtOneMillionPayments(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	ids := paymenttest.Seed(t, pool, oneMillion, 200)
	require.NotEmpty(t, ids)
	var rows int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payments`).Scan(&rows))
	require.Equal(t, int64(oneMillion), rows)

	// EXPLAIN ANALYZE each statement shape the by-id paths use, with a
	// real id: an index scan on payments_pkey, one row, few buffers.
	for name, q := range map[string]string{
		"get":        `SELECT * FROM payments WHERE id = $1`,
		"for update": `SELECT * FROM payments WHERE id = $1 FOR UPDATE`,
		"transition": `UPDATE payments SET updated_at = now() WHERE id = $1 AND status = ANY('{pending}'::text[])`,
	} {
		var raw []byte
		require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+q, ids[0]).Scan(&raw), name)
		var plans []struct {
			Plan          planNode `json:"Plan"`
			ExecutionTime float64  `json:"Execution Time"`
		}
		require.NoError(t, json.Unmarshal(raw, &plans), name)
		require.Len(t, plans, 1)
		scan := plans[0].Plan.find("Index Scan")
		require.NotNil(t, scan, "%s: no index scan in %s", name, raw)
		// (The transition may use payments_open, the partial index of
		// open payments, which is smaller still.)
		require.Contains(t, []string{"payments_pkey", "payments_open"}, scan.Index, name)
		require.Nil(t, plans[0].Plan.find("Seq Scan"), "%s: %s", name, raw)
		// A B-tree descent over a million keys touches 3-4 pages plus the
		// heap page; a scan would touch thousands.
		require.Less(t, scan.SharedHit+scan.SharedRead, int64(20), "%s: %s", name, raw)
		t.Logf("%s at %d payments: %s on %s, %d buffers, %.3f ms in PostgreSQL", name, oneMillion,
			scan.NodeType, scan.Index, scan.SharedHit+scan.SharedRead, plans[0].ExecutionTime)
	}

	// The store's own lookups: the table's scan counters move by index
	// scans only.
	ps := payment.NewStore(pool)
	scans := func() (seq, idx int64) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables
			WHERE relid = 'payments'::regclass`).Scan(&seq, &idx))
		return seq, idx
	}
	seq0, idx0 := scans()
	took := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		start := time.Now()
		got, err := ps.Get(ctx, id)
		took = append(took, time.Since(start))
		require.NoError(t, err)
		require.Equal(t, id, got.ID)
		require.Equal(t, payment.Paid, got.Status)
	}
	require.Eventually(t, func() bool { _, idx := scans(); return idx >= idx0+int64(len(ids)) },
		10*time.Second, 50*time.Millisecond, "every Get is an index scan")
	seq1, _ := scans()
	require.Less(t, seq1-seq0, int64(len(ids)/10), "Get does not scan a million payments")
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("Store.Get at %d payments over %d random ids: p50 %v, p99 %v (race detector on, shared machine)",
		oneMillion, len(took), took[len(took)/2], took[len(took)*99/100])
}

type planNode struct {
	NodeType   string     `json:"Node Type"`
	Index      string     `json:"Index Name"`
	SharedHit  int64      `json:"Shared Hit Blocks"`
	SharedRead int64      `json:"Shared Read Blocks"`
	Plans      []planNode `json:"Plans"`
}

// find returns the first node of the plan tree whose type is typ.
func (n *planNode) find(typ string) *planNode {
	if n.NodeType == typ {
		return n
	}
	for i := range n.Plans {
		if f := n.Plans[i].find(typ); f != nil {
			return f
		}
	}
	return nil
}
