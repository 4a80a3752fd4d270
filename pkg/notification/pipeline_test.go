package notification

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks/taskstest"
)

// A 10,000-user notification goes out in requests of at most 100, never over
// the configured rate, survives injected 429s, deactivates dead tokens from
// tickets and from receipts, and its counts add up.
func TestTenThousandUsers(t *testing.T) {
	t.Parallel()
	const (
		n       = 10000
		ceiling = 1000 // notifications per second, shared through Redis
	)
	b := setup(t, options{ratePerSecond: ceiling, serve: true})
	// Every 100th token is dead at once (error ticket); every 100th+50 dies
	// after Expo accepted it (error receipt).
	b.addDevices(t, 0, n, "en", func(i int) string {
		switch i % 100 {
		case 0:
			return fmt.Sprintf("ExponentPushToken[Invalid%05d]", i)
		case 50:
			return fmt.Sprintf("ExponentPushToken[InvalidLater%05d]", i)
		}
		return expoToken(i)
	})
	b.sim.FailNext(3, http.StatusTooManyRequests, time.Second)

	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id, UserIDs: users(0, n), Title: "Karibu", Body: "FundiGO is live in your area",
	}))
	require.Eventually(t, func() bool { return b.status(t, id) == StatusDone },
		90*time.Second, 100*time.Millisecond)

	st := b.sim.Stats()
	require.Equal(t, n, st.Messages, "every device got exactly one message")
	require.Len(t, st.PerToken, n)
	for tok, c := range st.PerToken {
		require.Equal(t, 1, c, tok)
	}
	require.LessOrEqual(t, st.MaxRequestSize(), 100)
	require.LessOrEqual(t, st.MaxPerSecond(), ceiling, "per second: %v", st.PerSecond)
	t.Logf("messages per second at the simulator: %v", st.PerSecond)
	require.Equal(t, 3, st.Rejected, "the injected 429s were retried")

	c := b.counts(t, id)
	require.Equal(t, Counts{
		Devices: n, Sent: n - 100, InvalidTokens: 100, AwaitingReceipt: n - 100,
	}, c)

	// Receipts are fetched only for tickets older than 15 minutes.
	b.runReceipts(t)
	require.Zero(t, b.sim.Stats().ReceiptRequests)
	b.clock.Add(16 * time.Minute)
	b.runReceipts(t)
	st = b.sim.Stats()
	require.Equal(t, n-100, st.ReceiptIDs)
	require.Equal(t, 10, st.ReceiptRequests, "batches of at most 1000 ids")
	c = b.counts(t, id)
	require.Equal(t, Counts{
		Devices: n, Sent: n - 100, InvalidTokens: 200, Delivered: n - 200,
	}, c)

	// Both kinds of dead token are deactivated, and only those.
	var inactive int
	var wrong int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `
		SELECT count(*) FILTER (WHERE NOT active),
		       count(*) FILTER (WHERE active = (token LIKE '%Invalid%'))
		FROM devices`).Scan(&inactive, &wrong))
	require.Equal(t, 200, inactive)
	require.Zero(t, wrong)

	// A second notification skips the deactivated devices.
	id2 := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id2, UserIDs: users(0, 300), Title: "Again", Body: "b",
	}))
	require.Eventually(t, func() bool { return b.status(t, id2) == StatusDone },
		30*time.Second, 50*time.Millisecond)
	require.Equal(t, 294, b.counts(t, id2).Devices)
	for i := range 300 {
		if i%100 == 0 || i%100 == 50 {
			continue
		}
		require.Len(t, b.sim.Received(expoToken(i)), 2)
	}
}

// Answers that a retry cannot change fail the batch's rows for good; a
// temporary refusal that outlasts the client's retries puts them back.
func TestRequestFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, options{maxAttempts: 2})
	b.addDevices(t, 0, 150, "en", expoToken)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id, UserIDs: users(0, 150), Title: "t", Body: "b",
	}))

	// 503 twice: the client gives up, the 100 claimed rows go back to pending
	// and the task reports an error so Asynq retries it.
	b.sim.FailNext(2, http.StatusServiceUnavailable, 0)
	require.Error(t, b.p.Send(t.Context(), id))
	c := b.counts(t, id)
	require.Equal(t, 150, c.Queued)
	require.Zero(t, b.sim.Stats().Messages)

	// 400: not retried, those rows fail.
	b.sim.FailNext(1, http.StatusBadRequest, 0)
	require.NoError(t, b.p.Send(t.Context(), id))
	c = b.counts(t, id)
	require.Equal(t, 100, c.Failed)
	require.Equal(t, 50, c.Queued)

	b.drain(t, id)
	c = b.counts(t, id)
	require.Equal(t, Counts{Devices: 150, Sent: 50, Failed: 100, AwaitingReceipt: 50}, c)
	require.Equal(t, StatusDone, b.status(t, id))
	var codes []string
	rows, err := b.p.cfg.Pool.Query(t.Context(), `SELECT DISTINCT error FROM notification_deliveries WHERE status = 'failed'`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		codes = append(codes, s)
	}
	require.Equal(t, []string{"INTERNAL_SERVER_ERROR"}, codes)
}

// A message too big for Expo fails without being sent.
func TestPayloadTooBig(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 2, "en", expoToken)
	id := uuid.NewString()
	// Validate refuses such a request now; one stored before (or by an older
	// version) still must not reach Expo.
	n, _, err := b.p.store.CreateNotification(t.Context(), Notification{Request: Request{
		ID: id, SourceKey: "test:" + id, UserIDs: users(0, 2), Title: "t", Body: strings.Repeat("x", 5000), Priority: PriorityNormal,
	}})
	require.NoError(t, err)
	require.NoError(t, b.p.fanOut(t.Context(), n))
	b.drain(t, id)
	require.Equal(t, Counts{Devices: 2, Failed: 2}, b.counts(t, id))
	require.Zero(t, b.sim.Stats().SendRequests)
}

// Pending deliveries nobody tried for a stale-claim period (their tasks were
// lost, or ran out of retries while Expo was down) get new send tasks from
// the receipts run.
func TestStalledPendingResumed(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 3, "en", expoToken)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: id, UserIDs: users(0, 3), Title: "t", Body: "b"}))
	insp := taskstest.Inspector(t)
	pending := func() int {
		tasks, err := insp.ListPendingTasks(b.p.cfg.Queues.Default)
		require.NoError(t, err)
		return len(tasks)
	}
	require.Equal(t, 1, pending(), "the fan-out's send task")

	b.runReceipts(t)
	require.Equal(t, 1, pending(), "not stalled yet")
	b.clock.Add(11 * time.Minute)
	b.runReceipts(t)
	require.Equal(t, 2, pending(), "a new send task for the stalled rows")
	b.drain(t, id)
	require.Equal(t, StatusDone, b.status(t, id))
	require.Equal(t, 3, b.sim.Stats().Messages)
}
