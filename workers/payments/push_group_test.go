package payments_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/tasks"
)

// groupedFlow writes the pushes of concurrent tasks together (a window long
// enough that a test's concurrent tasks share groups on a busy machine).
func groupedFlow(t *testing.T) *flow {
	return newFlowWith(t, 5*time.Second, func(c *config.Payments) {
		c.PushWindow, c.PushBatch = 30*time.Millisecond, 64
	})
}

// pushAll runs the push task of every id at once and returns each error.
func (f *flow) pushAll(t *testing.T, ids []string) []error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = f.push(t, id) })
	}
	wg.Wait()
	return errs
}

func TestGroupedPushesRecordEachPaymentOnce(t *testing.T) {
	t.Parallel()
	f := groupedFlow(t)
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = f.create(t, mpesasim.PhoneSuccess, int64(100+i))
	}
	for i, err := range f.pushAll(t, ids) {
		require.NoError(t, err, "push %d", i)
	}
	for _, id := range ids {
		p := f.waitStatus(t, id, payment.Paid)
		require.NotEmpty(t, p.CheckoutRequestID)
	}
	require.Equal(t, len(ids), f.sim.Stats().Pushes, "one STK push per payment")

	ctx := context.Background()
	var awaitingEvents, ledger, groups, acceptedGroups int
	require.NoError(t, f.deps.Pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM outbox WHERE message_id IN (SELECT $1 || ':' || x FROM unnest($2::text[]) x)),
			(SELECT count(*) FROM payment_ledger WHERE payment_id = ANY($2::uuid[])),
			(SELECT count(DISTINCT push_started_at) FROM payments WHERE id = ANY($2::uuid[])),
			(SELECT count(DISTINCT pushed_at) FROM payments WHERE id = ANY($2::uuid[]))`,
		events.RoutingKeyPaymentAwaitingCallback, ids).Scan(&awaitingEvents, &ledger, &groups, &acceptedGroups))
	require.Equal(t, len(ids), awaitingEvents, "one payment.awaiting_callback per payment")
	require.Equal(t, len(ids), ledger, "one ledger row per payment")
	// A group's rows share the time of its one statement: fewer distinct
	// times than payments proves the writes were shared.
	require.Less(t, groups, len(ids), "push-started marks were grouped")
	require.Less(t, acceptedGroups, len(ids), "accepted pushes were grouped")
}

func TestGroupedPushesOfOnePaymentSendOnce(t *testing.T) {
	t.Parallel()
	f := groupedFlow(t)
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = id // the same task run twelve times at once (a redrive racing the original)
	}
	for _, err := range f.pushAll(t, ids) {
		require.NoError(t, err)
	}
	f.waitStatus(t, id, payment.Paid)
	require.Equal(t, 1, f.sim.Stats().Pushes, "a payment repeated within a group is sent once")
}

func TestGroupedPushWithAPoisonedRowRecordsTheOthers(t *testing.T) {
	t.Parallel()
	f := groupedFlow(t)
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = f.create(t, mpesasim.PhoneSuccess, int64(200+i))
	}
	poisoned := ids[3]
	ctx := context.Background()
	// The database refuses to record this one payment as accepted.
	_, err := f.deps.Pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION poison_push() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.id = '%s' AND NEW.status = 'awaiting_callback' THEN RAISE EXCEPTION 'poisoned row'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER poison_push BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION poison_push();`, poisoned))
	require.NoError(t, err)
	errs := f.pushAll(t, ids)
	for i, id := range ids {
		if id == poisoned {
			require.ErrorContains(t, errs[i], "poisoned row", "the poisoned push's task fails (and is retried)")
			continue
		}
		require.NoError(t, errs[i], "push %d", i)
		f.waitStatus(t, id, payment.Paid)
	}
	p := f.get(t, poisoned)
	require.Equal(t, payment.Pending, p.Status)
	require.NotNil(t, p.PushStartedAt, "its push went out: a retry must not send it again")
	require.Equal(t, len(ids), f.sim.Stats().Pushes)
}

func TestGroupedPushWhoseTaskIsCancelledIsNotLeftStarted(t *testing.T) {
	t.Parallel()
	f := groupedFlow(t)
	id := f.create(t, mpesasim.PhoneSuccess, 300)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the task's deadline passed (or the worker is stopping) before its group wrote
	task, err := tasks.NewSTKPush(context.Background(), id, "q")
	require.NoError(t, err)
	require.Error(t, f.mux.ProcessTask(ctx, task), "the task fails and is retried")
	p := f.get(t, id)
	require.Equal(t, payment.Pending, p.Status)
	require.Nil(t, p.PushStartedAt, "nothing was sent, so the retry may send it (not settled as ambiguous)")
	require.Zero(t, f.sim.Stats().Pushes)

	require.NoError(t, f.push(t, id), "the retry")
	f.waitStatus(t, id, payment.Paid)
	require.Equal(t, 1, f.sim.Stats().Pushes)
}
