package payment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// awaiting creates n payments awaiting the callbacks of checkout ids
// prefix-0000…, and stores one success callback for each through the intake.
func awaiting(t *testing.T, pool *pgxpool.Pool, prefix string, n int) []string {
	t.Helper()
	ctx := context.Background()
	ps := payment.NewStore(pool)
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	in := &payment.Intake{Pool: pool, Writer: w, QuarantineCap: 10}
	ids := make([]string, n)
	for i := range n {
		ids[i] = uuid.NewString()
		checkout := fmt.Sprintf("%s-%04d", prefix, i)
		_, err := ps.Create(ctx, payment.New{ID: ids[i], JobID: "j", CustomerID: "c", Phone: mpesasim.PhoneSuccess, Amount: 100, CreatedAt: time.Now()})
		require.NoError(t, err)
		_, err = ps.MarkAwaiting(ctx, ids[i], "m", checkout, false, time.Now())
		require.NoError(t, err)
		body := mpesasim.CallbackBody("m", checkout, "0", "ok", 100, fmt.Sprintf("R%s%04d", prefix[:5], i), mpesasim.PhoneSuccess, time.Now())
		_, err = in.Accept(ctx, payment.Delivery{Body: body, ContentType: "application/json", Origin: "test", Trusted: true})
		require.NoError(t, err)
	}
	return ids
}

// TestBatchIsolatesAPoisonRow is issue #20 item 1 and #12 row 3: a batch
// failing on one row is split until the row is alone; every other row is
// applied, the poison row records its attempt, and a deterministic error
// makes it stuck at once (later rows are always reached).
func TestBatchIsolatesAPoisonRow(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	ids := awaiting(t, pool, "POISN", 40)
	// The database refuses the outcome of one callback deterministically
	// (SQLSTATE 22023), and of another transiently (40001).
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.checkout_request_id = 'POISN-0007' THEN RAISE EXCEPTION 'bad value' USING ERRCODE = '22023'; END IF;
			IF NEW.checkout_request_id = 'POISN-0031' THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF;
			RETURN NEW; END $$;
		CREATE TRIGGER poison BEFORE INSERT ON payment_callbacks FOR EACH ROW EXECUTE FUNCTION poison()`)
	require.NoError(t, err)
	a, err := payment.NewApplier(payment.Deps{Log: zerolog.Nop(), Pool: pool}, payment.ApplierConfig{BatchSize: 100, MaxAttempts: 3})
	require.NoError(t, err)
	n, err := a.ApplyBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 40, n)

	var paid, ledger, events, applied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'paid') FROM payments`).Scan(&paid))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger`).Scan(&ledger))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = 'payment.paid'`).Scan(&events))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE applied_at IS NOT NULL`).Scan(&applied))
	require.Equal(t, 38, paid, "every other callback applied")
	require.Equal(t, 38, ledger)
	require.Equal(t, 38, events)
	require.Equal(t, 38, applied)

	type state struct {
		attempts int
		stuck    bool
		lastErr  string
		due      bool
	}
	get := func(key string) state {
		var s state
		require.NoError(t, pool.QueryRow(ctx, `SELECT attempts, stuck_at IS NOT NULL, coalesce(last_error, ''),
			next_attempt_at IS NOT NULL FROM inbox WHERE natural_key = $1`, key).Scan(&s.attempts, &s.stuck, &s.lastErr, &s.due))
		return s
	}
	bad := get("POISN-0007")
	require.True(t, bad.stuck, "a deterministic error is permanent")
	require.Equal(t, 1, bad.attempts)
	require.Contains(t, bad.lastErr, "bad value")
	flaky := get("POISN-0031")
	require.False(t, flaky.stuck, "a transient error is retried")
	require.Equal(t, 1, flaky.attempts)
	require.True(t, flaky.due, "with a backoff")

	// Retried until MaxAttempts, then stuck; the stuck list shows both.
	for range 2 {
		_, err := pool.Exec(ctx, `UPDATE inbox SET next_attempt_at = now() WHERE natural_key = 'POISN-0031'`)
		require.NoError(t, err)
		n, err := a.ApplyBatch(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the stuck row is not claimed again")
	}
	require.True(t, get("POISN-0031").stuck)
	stuck, err := payment.ListStuck(ctx, pool, 10)
	require.NoError(t, err)
	require.Len(t, stuck, 2)

	// An operator fixes the cause and retries: the row is applied once.
	_, err = pool.Exec(ctx, `DROP TRIGGER poison ON payment_callbacks`)
	require.NoError(t, err)
	retried, err := payment.RetryStuck(ctx, pool, []int64{stuck[0].InboxID, stuck[1].InboxID})
	require.NoError(t, err)
	require.Equal(t, 2, retried)
	n, err = a.ApplyBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'paid') FROM payments`).Scan(&paid))
	require.Equal(t, 40, paid)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE payment_id = ANY($1::uuid[])`, ids).Scan(&ledger))
	require.Equal(t, 40, ledger)
}

// TestUnverifiedSuccessWaitsForDaraja is issue #12 row 1: in every
// configuration — no allowlist and no FUNDIGO_MPESA_VERIFY_ALL here, the
// development default, which used to believe any sender — a success
// callback from an untrusted source (a forger holding the path token, with
// a well-formed fake receipt) never marks the payment paid by itself; it
// waits, unapplied, and once Daraja has confirmed the payment (the reconcile
// STK Push Query marks it paid) the stored callback records its receipt. A
// trusted source is applied at once, as before.
func TestUnverifiedSuccessWaitsForDaraja(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	ps := payment.NewStore(pool)
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	in := &payment.Intake{Pool: pool, Writer: w, QuarantineCap: 10}
	pay := func(checkout string, trusted bool) string {
		id := uuid.NewString()
		_, err := ps.Create(ctx, payment.New{ID: id, JobID: "j", CustomerID: "c", Phone: mpesasim.PhoneSuccess, Amount: 100, CreatedAt: time.Now()})
		require.NoError(t, err)
		_, err = ps.MarkAwaiting(ctx, id, "m", checkout, false, time.Now())
		require.NoError(t, err)
		body := mpesasim.CallbackBody("m", checkout, "0", "ok", 100, "FAKE000001"[:6]+checkout[len(checkout)-4:], mpesasim.PhoneSuccess, time.Now())
		_, err = in.Accept(ctx, payment.Delivery{Body: body, ContentType: "application/json", Origin: "test", Trusted: trusted})
		require.NoError(t, err)
		return id
	}
	forged := pay("VERIFY-0001", false)
	allowed := pay("VERIFY-0002", true)

	d := payment.Deps{Log: zerolog.Nop(), Pool: pool}
	d.Config.QueryEvery = time.Minute
	a, err := payment.NewApplier(d, payment.ApplierConfig{BatchSize: 100, MaxAttempts: 3})
	require.NoError(t, err)
	_, err = a.ApplyBatch(ctx)
	require.NoError(t, err)

	status := func(id string) (string, string) {
		var st, receipt string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status, coalesce(mpesa_receipt, '') FROM payments WHERE id = $1`, id).Scan(&st, &receipt))
		return st, receipt
	}
	st, _ := status(forged)
	require.Equal(t, "awaiting_callback", st, "an untrusted success alone never makes a payment paid")
	st, receipt := status(allowed)
	require.Equal(t, "paid", st, "a trusted source is believed")
	require.Equal(t, "FAKE000002", receipt)
	var ledger int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE checkout_request_id = 'VERIFY-0001'`).Scan(&ledger))
	require.Zero(t, ledger, "no money recorded for the unverified success")
	var applied, due bool
	var why string
	require.NoError(t, pool.QueryRow(ctx, `SELECT applied_at IS NOT NULL, next_attempt_at <= now(), coalesce(last_error, '')
		FROM inbox WHERE natural_key = 'VERIFY-0001'`).Scan(&applied, &due, &why))
	require.False(t, applied, "kept as evidence")
	require.False(t, due, "not retried before the next query")
	require.Contains(t, why, "awaiting confirmation")

	// Another pass changes nothing while Daraja has not confirmed.
	_, err = a.ApplyBatch(ctx)
	require.NoError(t, err)
	st, _ = status(forged)
	require.Equal(t, "awaiting_callback", st)

	// Daraja confirms (what the reconcile STK Push Query does on success),
	// the waiting callback comes due: its receipt is recorded, once.
	_, err = ps.MarkPaid(ctx, forged, payment.Outcome{ResultCode: "0", ResultDesc: "confirmed", At: time.Now()})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE inbox SET next_attempt_at = now() WHERE natural_key = 'VERIFY-0001'`)
	require.NoError(t, err)
	_, err = a.ApplyBatch(ctx)
	require.NoError(t, err)
	st, receipt = status(forged)
	require.Equal(t, "paid", st)
	require.Equal(t, "FAKE000001", receipt)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE checkout_request_id = 'VERIFY-0001'`).Scan(&ledger))
	require.Equal(t, 1, ledger)
}

// TestApplierAsksDarajaAtOnce is issue #12 (prompt confirmation): deferring
// an untrusted success enqueues its payments:confirm task in the same pass
// (one per push, however many callbacks wait), instead of leaving it to
// reconciliation's QueryAfter.
func TestApplierAsksDarajaAtOnce(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	ps := payment.NewStore(pool)
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	in := &payment.Intake{Pool: pool, Writer: w, QuarantineCap: 10}
	id := uuid.NewString()
	_, err = ps.Create(ctx, payment.New{ID: id, JobID: "j", CustomerID: "c", Phone: mpesasim.PhoneSuccess, Amount: 100, CreatedAt: time.Now()})
	require.NoError(t, err)
	_, err = ps.MarkAwaiting(ctx, id, "m", "ASK-0001", false, time.Now())
	require.NoError(t, err)
	for _, receipt := range []string{"ASKRCPT001", "ASKRCPT002"} {
		body := mpesasim.CallbackBody("m", "ASK-0001", "0", "ok", 100, receipt, mpesasim.PhoneSuccess, time.Now())
		_, err = in.Accept(ctx, payment.Delivery{Body: body, ContentType: "application/json", Origin: "test"})
		require.NoError(t, err)
	}
	q := taskstest.Queues(t)
	d := payment.Deps{Log: zerolog.Nop(), Pool: pool, Tasks: taskstest.Client(t), Queues: q}
	a, err := payment.NewApplier(d, payment.ApplierConfig{BatchSize: 100})
	require.NoError(t, err)
	n, err := a.ApplyBatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	insp := taskstest.Inspector(t)
	info, err := insp.GetTaskInfo(q.Critical, "confirm:ASK-0001")
	require.NoError(t, err, "the confirmation was requested at once")
	require.Equal(t, tasks.TypePaymentConfirm, info.Type)
	pending, err := insp.ListPendingTasks(q.Critical)
	require.NoError(t, err)
	require.Len(t, pending, 1, "one confirmation per push")
	p, err := ps.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, payment.AwaitingCallback, p.Status)
}
