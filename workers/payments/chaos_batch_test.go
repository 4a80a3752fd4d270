//go:build chaos

package payments_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
)

// TestChaosKillMidBatchAppliesEveryAcceptedCallbackOnce (issue #20 done-when)
// stores 5,000 success callbacks through payment.Intake (what the webhook
// answers 200 for) plus 1,000 redeliveries with other bytes, SIGKILLs the
// worker process while it applies them in batches of 500, starts another,
// and checks that every accepted callback was applied exactly once:
// payment_callbacks rows, ledger rows and payment.paid events.
func TestChaosKillMidBatchAppliesEveryAcceptedCallbackOnce(t *testing.T) {
	t.Parallel()
	ns := amqpxtest.Names(t)
	exchange, prefix := ns.Exchange("events"), ns.Prefix()+"."
	ns.Queue("payments.stk_callbacks")
	ns.Queue("payments.c2b_confirmations")
	pool, dbURL := storetest.NewPoolURL(t)
	ctx := context.Background()
	const n, dups = 5000, 1000

	_, err := pool.Exec(ctx, `INSERT INTO payments (id, job_id, customer_id, phone, amount, status, checkout_request_id, pushed_at)
		SELECT gen_random_uuid(), 'job-' || g, 'c', $1, 100, 'awaiting_callback', 'ws_CO_chaos_' || lpad(g::text, 5, '0'), now()
		FROM generate_series(0, $2 - 1) g`, mpesasim.PhoneSuccess, n)
	require.NoError(t, err)

	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	in := &payment.Intake{Pool: pool, Writer: w, QuarantineCap: 10}
	accepted := map[int64]bool{}
	for i := range n + dups {
		k := i % n
		body := mpesasim.CallbackBody("m", fmt.Sprintf("ws_CO_chaos_%05d", k), "0", "ok", 100,
			fmt.Sprintf("CHAOS%05d", k), mpesasim.PhoneSuccess, time.Now())
		if i >= n {
			body = append(body, ' ') // a redelivery with other bytes: stored, applied as a duplicate
		}
		res, err := in.Accept(ctx, payment.Delivery{Body: body, ContentType: "application/json", Origin: "chaos", Trusted: true})
		require.NoError(t, err)
		accepted[res.InboxID] = true
	}
	require.Len(t, accepted, n+dups)

	applied := func() int {
		var c int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_callbacks`).Scan(&c))
		return c
	}
	first := startChild(t, dbURL, exchange, prefix, envChildBatch+"=500")
	require.Eventually(t, func() bool { return applied() >= 1000 }, 120*time.Second, 2*time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	atKill := applied()
	require.Less(t, atKill, n+dups, "killed mid-stream")
	t.Logf("killed with %d of %d callbacks applied", atKill, n+dups)

	startChild(t, dbURL, exchange, prefix, envChildBatch+"=500")
	require.Eventually(t, func() bool { return applied() == n+dups }, 180*time.Second, 50*time.Millisecond)

	var callbacks, distinct, ledger, events, paid, unapplied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT inbox_id) FROM payment_callbacks`).Scan(&callbacks, &distinct))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger`).Scan(&ledger))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = 'payment.paid'`).Scan(&events))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE status = 'paid'`).Scan(&paid))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE applied_at IS NULL`).Scan(&unapplied))
	require.Equal(t, n+dups, callbacks, "one outcome per accepted callback")
	require.Equal(t, callbacks, distinct)
	require.Equal(t, n, ledger, "one ledger row per receipt")
	require.Equal(t, n, events, "one payment.paid per payment")
	require.Equal(t, n, paid)
	require.Zero(t, unapplied)
	var ids []int64
	rows, err := pool.Query(ctx, `SELECT inbox_id FROM payment_callbacks`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	for _, id := range ids {
		require.True(t, accepted[id], "inbox row %d applied but never accepted", id)
	}
}
