package payments_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/payments"
)

// countingSTK wraps the simulator-backed client and records how many STK
// Queries ran and the most in flight at once.
type countingSTK struct {
	payment.STK
	inFlight, maxInFlight, queries atomic.Int64
	mu                             sync.Mutex
	first, last                    time.Time
}

func (c *countingSTK) STKQuery(ctx context.Context, checkoutRequestID string) (mpesa.QueryResult, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	c.queries.Add(1)
	c.mu.Lock()
	now := time.Now()
	if c.first.IsZero() {
		c.first = now
	}
	c.last = now
	c.mu.Unlock()
	return c.STK.STKQuery(ctx, checkoutRequestID)
}

func reconcileAt(t *testing.T, d payments.Deps, at time.Time) {
	t.Helper()
	d.Now = func() time.Time { return at }
	mux := asynq.NewServeMux()
	require.NoError(t, payments.Register(mux, d))
	require.NoError(t, mux.ProcessTask(context.Background(), tasks.NewPaymentsReconcile("q")))
}

func statusCounts(t *testing.T, f *flow) map[payment.Status]int {
	t.Helper()
	rows, err := f.deps.Pool.Query(context.Background(), `SELECT status, count(*) FROM payments GROUP BY status`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[payment.Status]int{}
	for rows.Next() {
		var s payment.Status
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		out[s] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// TestReconcileDrainsABacklogInOneRunWithBoundedConcurrency is issue 12 row
// 8: one run settles a backlog larger than its page (was 200 a run, one STK
// Query at a time), with at most QueryConcurrency queries in flight and no
// faster than QueryRate.
func TestReconcileDrainsABacklogInOneRunWithBoundedConcurrency(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	const n = 450
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.create(t, mpesasim.PhoneQueryOnly, int64(10+i))
		require.NoError(t, f.push(t, ids[i]))
	}
	require.Equal(t, n, statusCounts(t, f)[payment.AwaitingCallback])

	stk := &countingSTK{STK: f.deps.STK}
	d := f.deps
	d.STK = stk
	const rate, concurrency = 300.0, 6
	d.Config.Reconcile = config.Reconcile{QueryConcurrency: concurrency, QueryRate: rate, RunBudget: time.Minute}
	start := time.Now()
	reconcileAt(t, d, time.Now().Add(2*time.Minute))
	t.Logf("one run settled %d payments in %s, at most %d queries in flight", n, time.Since(start).Round(time.Millisecond), stk.maxInFlight.Load())

	require.Equal(t, map[payment.Status]int{payment.Paid: n}, statusCounts(t, f), "the whole backlog in one run")
	require.EqualValues(t, n, stk.queries.Load(), "each payment queried once")
	require.Greater(t, stk.maxInFlight.Load(), int64(1), "queries run concurrently")
	require.LessOrEqual(t, stk.maxInFlight.Load(), int64(concurrency))
	// The rate is a lower bound on the run's length (never flaky when slow):
	// n queries at `rate` per second with a burst of `rate` need (n-rate)/rate s.
	perSecond := rate // a variable: the bound is computed at run time
	minRun := time.Duration(float64(n-int(perSecond)-1) / perSecond * float64(time.Second))
	require.GreaterOrEqual(t, stk.last.Sub(stk.first), minRun)
}

// TestReconcileExpiresOverduePaymentsWithoutQuerying is issue 12 row 8: past
// their deadline, awaiting payments are expired set-based in the run, with
// their payment.failed events, and Daraja is not asked about them.
func TestReconcileExpiresOverduePaymentsWithoutQuerying(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	const n = 30
	for i := range n {
		id := f.create(t, mpesasim.PhoneSilent, int64(10+i))
		require.NoError(t, f.push(t, id))
	}
	stk := &countingSTK{STK: f.deps.STK}
	d := f.deps
	d.STK = stk
	reconcileAt(t, d, time.Now().Add(f.deps.Config.FinalDeadline+time.Minute))
	require.Equal(t, map[payment.Status]int{payment.Failed: n}, statusCounts(t, f))
	require.Zero(t, stk.queries.Load(), "nothing left to ask once past the final deadline")
	var reasons, events int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT count(*) FILTER (WHERE failure_reason = 'expired') FROM payments`).Scan(&reasons))
	require.Equal(t, n, reasons)
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE message_id LIKE 'payment.failed:%'`).Scan(&events))
	require.Equal(t, n, events)
}

// archivedPush creates a pending payment whose push task was archived
// (retries exhausted during a database outage), as the inspector shows it.
func archivedPush(t *testing.T) (*flow, payments.Deps, string) {
	t.Helper()
	f := newFlow(t, 5*time.Second)
	insp := taskstest.Inspector(t)
	d := f.deps
	d.Tasks, d.Inspector = taskstest.Client(t), insp
	d.Config.Reconcile = config.Reconcile{PendingDeadline: 10 * time.Minute}
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	task, err := tasks.NewSTKPush(context.Background(), id, d.Queues.Critical)
	require.NoError(t, err)
	_, err = d.Tasks.EnqueueContext(context.Background(), task)
	require.NoError(t, err)
	require.NoError(t, insp.ArchiveTask(d.Queues.Critical, id))
	info, err := insp.GetTaskInfo(d.Queues.Critical, id)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateArchived, info.State)
	return f, d, id
}

// TestReconcileRedrivesAnArchivedPushTask is issue 12 row 7: the archived
// task was taken for "still exists" and the payment stayed pending; now it
// is replaced by a live one.
func TestReconcileRedrivesAnArchivedPushTask(t *testing.T) {
	t.Parallel()
	f, d, id := archivedPush(t)
	reconcileAt(t, d, time.Now().Add(3*time.Minute)) // past RedriveAfter, before the pending deadline
	info, err := taskstest.Inspector(t).GetTaskInfo(d.Queues.Critical, id)
	require.NoError(t, err)
	require.NotEqual(t, asynq.TaskStateArchived, info.State, "the archived push task was replaced")
	require.Equal(t, payment.Pending, f.get(t, id).Status)
}

// TestReconcileExpiresAPaymentPendingPastItsDeadline is issue 12 row 7:
// pending has a deadline; past it the payment fails as expired (with its
// payment.failed event) instead of staying pending forever.
func TestReconcileExpiresAPaymentPendingPastItsDeadline(t *testing.T) {
	t.Parallel()
	f, d, id := archivedPush(t)
	reconcileAt(t, d, time.Now().Add(11*time.Minute))
	p := f.get(t, id)
	require.Equal(t, payment.Failed, p.Status)
	require.Equal(t, "expired", p.FailureReason)
	var ev int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.failed:"+id).Scan(&ev))
	require.Equal(t, 1, ev)
}
