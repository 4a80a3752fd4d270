package payments_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/payments"
)

// flow is the payments workflow over a fresh schema, the simulator and a
// callback receiver that stores (inbox) and applies each callback as the
// API + consumer would.
type flow struct {
	// untrusted stores the receiver's callbacks as from an untrusted
	// source; drop makes it answer 200 without storing (a lost callback).
	untrusted, drop atomic.Bool
	sim             *mpesasim.Sim
	receiverURL     string
	deps            payments.Deps
	mux             *asynq.ServeMux
	apply           func(ctx context.Context, d amqp.Delivery) error
}

func newFlow(t *testing.T, clientTimeout time.Duration) *flow {
	t.Helper()
	return newFlowWith(t, clientTimeout, nil)
}

// newFlowWith is newFlow with its payments settings changed by tune (nil:
// unchanged; pushes are written alone).
func newFlowWith(t *testing.T, clientTimeout time.Duration, tune func(*config.Payments)) *flow {
	t.Helper()
	pool := storetest.NewPool(t)
	f := &flow{sim: mpesasim.New(mpesasim.Config{CallbackDelay: 20 * time.Millisecond})}
	daraja := httptest.NewServer(f.sim)
	t.Cleanup(func() { daraja.Close(); f.sim.Close() })
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if f.drop.Load() {
			return
		}
		cb, err := mpesa.ParseCallback(body)
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		// The simulator is Daraja: a trusted source unless the test says not.
		res, err := w.Write(r.Context(), inbox.Entry{Route: "mpesa.stk", Key: cb.CheckoutRequestID, Body: body,
			RoutingKey: events.RoutingKeySTKCallbackReceived, Trusted: !f.untrusted.Load()})
		if err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		notice, _ := json.Marshal(inbox.Notice{InboxID: res.ID, Route: "mpesa.stk", Key: cb.CheckoutRequestID})
		if err := f.apply(r.Context(), amqp.Delivery{Body: notice}); err != nil {
			rw.WriteHeader(http.StatusInternalServerError)
			return
		}
	}))
	t.Cleanup(receiver.Close)
	f.receiverURL = receiver.URL + "/cb"
	sc := f.sim.Config()
	client, err := mpesa.NewClient(taskstest.Redis(t), mpesa.ClientConfig{BaseURL: daraja.URL, ConsumerKey: sc.ConsumerKey,
		ConsumerSecret: sc.ConsumerSecret, ShortCode: sc.ShortCode, Passkey: sc.Passkey,
		CallbackURL: receiver.URL + "/cb", Timeout: clientTimeout, TokenKey: taskstest.Prefix(t) + "oauth"})
	require.NoError(t, err)
	f.deps = payments.Deps{Deps: payment.Deps{Log: zerolog.Nop(), Pool: pool, STK: client, Queues: taskstest.Queues(t),
		Config: config.Payments{FinalDeadline: 10 * time.Minute, QueryAfter: time.Minute, QueryEvery: time.Minute,
			RedriveAfter: time.Minute, OrphanReportAfter: time.Hour}}}
	if tune != nil {
		tune(&f.deps.Config)
	}
	f.mux = asynq.NewServeMux()
	require.NoError(t, payments.Register(f.mux, f.deps))
	specs, err := payments.Consumers(f.deps)
	require.NoError(t, err)
	f.apply = specs[0].Handler
	return f
}

func (f *flow) create(t *testing.T, phone string, amount int64) string {
	t.Helper()
	id := uuid.NewString()
	_, err := payment.NewStore(f.deps.Pool).Create(context.Background(), payment.New{ID: id, JobID: "job-42",
		CustomerID: "c", Phone: phone, Amount: amount, CreatedAt: time.Now()})
	require.NoError(t, err)
	return id
}

func (f *flow) push(t *testing.T, id string) error {
	t.Helper()
	task, err := tasks.NewSTKPush(context.Background(), id, "q")
	require.NoError(t, err)
	return f.mux.ProcessTask(context.Background(), task)
}

func (f *flow) get(t *testing.T, id string) payment.Payment {
	t.Helper()
	p, err := payment.NewStore(f.deps.Pool).Get(context.Background(), id)
	require.NoError(t, err)
	return p
}

func (f *flow) waitStatus(t *testing.T, id string, want payment.Status) payment.Payment {
	t.Helper()
	require.Eventually(t, func() bool { return f.get(t, id).Status == want }, 15*time.Second, 10*time.Millisecond)
	return f.get(t, id)
}

func TestPushAcceptedThenCallbackPays(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	require.NoError(t, f.push(t, id))
	p := f.waitStatus(t, id, payment.Paid)
	require.NotEmpty(t, p.MpesaReceipt)
	require.NoError(t, f.push(t, id), "a second run of the task is a no-op")
	require.Equal(t, 1, f.sim.Stats().Pushes)

	// A redelivered notice of the same callback changes nothing.
	ctx := context.Background()
	var inboxID int64
	require.NoError(t, f.deps.Pool.QueryRow(ctx,
		`SELECT inbox_id FROM payment_callbacks WHERE payment_id = $1`, id).Scan(&inboxID))
	notice, err := json.Marshal(inbox.Notice{InboxID: inboxID, Route: "mpesa.stk", Key: p.CheckoutRequestID})
	require.NoError(t, err)
	require.NoError(t, f.apply(ctx, amqp.Delivery{Body: notice}))
	again := f.get(t, id)
	require.Equal(t, p.UpdatedAt, again.UpdatedAt)
	var outcome string
	var events, ledger int
	require.NoError(t, f.deps.Pool.QueryRow(ctx,
		`SELECT outcome, (SELECT count(*) FROM outbox WHERE message_id = $2),
			(SELECT count(*) FROM payment_ledger WHERE payment_id = $3)
		FROM payment_callbacks WHERE inbox_id = $1`, inboxID, "payment.paid:"+id, id).Scan(&outcome, &events, &ledger))
	require.Equal(t, "paid", outcome, "the redelivery is recognised as already applied")
	require.Equal(t, 1, events)
	require.Equal(t, 1, ledger)
}

func TestCallbackBeatingOurWriteIsMatchedAsOrphan(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	// Daraja answers the push only after its callback was delivered.
	f.sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 700 * time.Millisecond})
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	require.Equal(t, payment.Paid, p.Status, "the orphan is applied when the id is stored")
	var orphans, matched int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT count(*), count(matched_at) FROM payment_orphans`).Scan(&orphans, &matched))
	require.Equal(t, 1, orphans)
	require.Equal(t, 1, matched)
}

func TestAcceptedPushKeepsItsIDsAfterAConcurrentRunSettledItAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	// Daraja answers only after its (failure) callback was delivered.
	f.sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 700 * time.Millisecond})
	id := f.create(t, mpesasim.PhoneCancelled, 100)
	done := make(chan error, 1)
	go func() { done <- f.push(t, id) }()
	require.Eventually(t, func() bool { return f.get(t, id).PushStartedAt != nil }, 5*time.Second, 5*time.Millisecond)
	// A second run of the task (lease lost) finds the push started.
	_, err := payment.NewStore(f.deps.Pool).MarkAwaiting(context.Background(), id, "", "", true, time.Now())
	require.NoError(t, err)
	require.NoError(t, <-done)
	p := f.get(t, id)
	require.NotEmpty(t, p.CheckoutRequestID, "the accepted ids are kept")
	require.Equal(t, payment.Failed, p.Status, "the orphan failure callback is applied")
	require.Equal(t, "cancelled", p.FailureReason)
}

func TestAmbiguousPushIsNeverResent(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 300*time.Millisecond)
	warm := f.create(t, mpesasim.PhoneSilent, 5) // fetch the token first
	require.NoError(t, f.push(t, warm))
	f.sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 2 * time.Second, CallbackDelay: time.Second})
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status)
	require.True(t, p.PushAmbiguous)
	require.Empty(t, p.CheckoutRequestID)
	require.NoError(t, f.push(t, id), "a retried task does not send again")
	// Its success callback is matched by phone and amount once Daraja
	// confirms it (TestAmbiguousMatchWaitsForDarajaBeforeLinking).
	var checkout string
	require.Eventually(t, func() bool {
		return f.deps.Pool.QueryRow(context.Background(), `SELECT checkout_request_id FROM payment_orphans`).Scan(&checkout) == nil
	}, 15*time.Second, 10*time.Millisecond)
	require.NoError(t, f.confirm(t, checkout))
	p = f.get(t, id)
	require.Equal(t, payment.Paid, p.Status)
	require.Equal(t, checkout, p.CheckoutRequestID)
	require.Equal(t, 1, f.sim.Stats().PushesByPhone[mpesasim.PhoneSuccess])
}

func TestPushNotSentIsRetriedThenRejectedIsFinal(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.sim.SetFaults(mpesasim.Faults{Fail5xx: 1})
	id := f.create(t, mpesasim.PhoneSilent, 100)
	require.Error(t, f.push(t, id), "busy: retried by Asynq")
	p := f.get(t, id)
	require.Equal(t, payment.Pending, p.Status)
	require.Nil(t, p.PushStartedAt, "a push that did not reach Daraja may be sent again")
	require.NoError(t, f.push(t, id))
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status)

	// A push that dies after BeginPush (crash) is not re-sent.
	crashed := f.create(t, mpesasim.PhoneSilent, 100)
	_, err := payment.NewStore(f.deps.Pool).BeginPush(context.Background(), crashed, time.Now())
	require.NoError(t, err)
	before := f.sim.Stats().Pushes
	require.NoError(t, f.push(t, crashed))
	require.Equal(t, before, f.sim.Stats().Pushes)
	require.True(t, f.get(t, crashed).PushAmbiguous)
}

func TestPushRefusedByDarajaFailsRejected(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	id := f.create(t, mpesasim.PhoneSilent, 300000) // over Daraja's limit
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	require.Equal(t, payment.Failed, p.Status)
	require.Equal(t, "rejected", p.FailureReason)
	require.Equal(t, "400.002.02", p.ResultCode)
	var ev int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.failed:"+id).Scan(&ev))
	require.Equal(t, 1, ev)
}

func TestReconcileExpiresPastTheFinalDeadline(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	id := f.create(t, mpesasim.PhoneSilent, 100)
	require.NoError(t, f.push(t, id))
	later := f.deps
	later.Now = func() time.Time { return time.Now().Add(5 * time.Minute) }
	mux := asynq.NewServeMux()
	require.NoError(t, payments.Register(mux, later))
	require.NoError(t, mux.ProcessTask(context.Background(), tasks.NewPaymentsReconcile("q")))
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status, "being processed: still waiting")
	require.NotNil(t, p.LastQueriedAt)

	later.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	mux = asynq.NewServeMux()
	require.NoError(t, payments.Register(mux, later))
	require.NoError(t, mux.ProcessTask(context.Background(), tasks.NewPaymentsReconcile("q")))
	p = f.get(t, id)
	require.Equal(t, payment.Failed, p.Status)
	require.Equal(t, "expired", p.FailureReason)
	var ev int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.failed:"+id).Scan(&ev))
	require.Equal(t, 1, ev)
}
