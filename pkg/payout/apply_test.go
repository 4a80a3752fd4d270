package payout_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payout"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

type bundle struct {
	pool *pgxpool.Pool
	deps payout.Deps
	sim  *mpesasim.Sim
	now  time.Time
}

// setup gives a fresh schema, a simulator and payout deps whose clock the
// test moves. Answers the simulator sends go nowhere (the test posts the
// bodies it wants through apply).
func setup(t *testing.T) *bundle {
	t.Helper()
	pool := storetest.NewPool(t)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(sink.Close)
	sim := mpesasim.New(mpesasim.Config{CallbackDelay: time.Hour})
	t.Cleanup(sim.Close)
	daraja := httptest.NewServer(sim)
	t.Cleanup(daraja.Close)
	sc := sim.Config()
	client, err := mpesa.NewClient(taskstest.Redis(t), mpesa.ClientConfig{BaseURL: daraja.URL, ConsumerKey: sc.ConsumerKey,
		ConsumerSecret: sc.ConsumerSecret, ShortCode: sc.ShortCode, Passkey: sc.Passkey, CallbackURL: sink.URL + "/stk",
		TokenKey: taskstest.Prefix(t) + "mpesa:oauth"})
	require.NoError(t, err)
	cred, err := mpesa.SecurityCredential(sim.CertificatePEM(), sc.InitiatorPassword)
	require.NoError(t, err)
	b := &bundle{pool: pool, sim: sim, now: time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)}
	b.deps = payout.Deps{
		Log: zerolog.Nop(), Pool: pool, Daraja: client,
		Initiator: mpesa.Initiator{Name: sc.InitiatorName, SecurityCredential: cred},
		URLs:      payout.URLs{B2CResult: sink.URL + "/r", B2CTimeout: sink.URL + "/t", StatusResult: sink.URL + "/sr", StatusTimeout: sink.URL + "/st"},
		Config: config.Payouts{MaxAmount: 250000, StatusAfter: 2 * time.Minute, StatusEvery: time.Minute,
			StatusMaxEvery: 15 * time.Minute, FinalDeadline: time.Hour, LowBalance: 20000},
		Now: func() time.Time { return b.now },
	}
	return b
}

func (b *bundle) create(t *testing.T, phone string) payout.Payout {
	t.Helper()
	amount := int64(250)
	p, err := payout.Create(context.Background(), b.deps, uuid.NewString(), payout.CreateRequest{
		TechnicianID: "tech-1", Phone: phone, Amount: &amount, JobID: "job-1", Remarks: "Kazi nzuri"})
	require.NoError(t, err)
	return p
}

func (b *bundle) get(t *testing.T, id string) payout.Payout {
	t.Helper()
	p, err := payout.NewStore(b.pool).Get(context.Background(), id)
	require.NoError(t, err)
	return p
}

// apply stores body as an inbox row of route and applies it.
func (b *bundle) apply(t *testing.T, route string, body []byte) error {
	t.Helper()
	h := sha256.Sum256(body)
	var id int64
	require.NoError(t, b.pool.QueryRow(context.Background(), `INSERT INTO inbox (route, natural_key, body_hash, body)
		VALUES ($1, $2, $3, $4) RETURNING id`, route, uuid.NewString(), h[:], body).Scan(&id))
	return payout.ApplyInboxRow(context.Background(), b.deps, id)
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// submitted creates a payout of phone and submits it through the simulator.
func (b *bundle) submitted(t *testing.T, phone string) payout.Payout {
	t.Helper()
	p := b.create(t, phone)
	require.NoError(t, payout.Submit(context.Background(), b.deps, p.ID))
	p = b.get(t, p.ID)
	require.Equal(t, payout.Submitted, p.Status)
	require.NotEmpty(t, p.ConversationID)
	return p
}

func success(p payout.Payout, receipt string) []byte {
	return mpesasim.B2CResultBody(p.OriginatorConversationID, p.ConversationID, "0", "ok", p.Amount, receipt, p.Phone,
		time.Date(2030, 1, 1, 9, 1, 0, 0, time.UTC))
}

func TestApplyB2CAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("success, then a duplicate delivery, records one receipt and one event", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.submitted(t, mpesasim.PhoneSuccess)
		body := success(p, "SGX0000001")
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, body))
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, body))
		got := b.get(t, p.ID)
		require.Equal(t, payout.Succeeded, got.Status)
		require.Equal(t, "SGX0000001", got.MpesaReceipt)
		require.Equal(t, time.Date(2030, 1, 1, 9, 1, 0, 0, time.UTC), got.CompletedAt.UTC())
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_ledger WHERE payout_id = $1 AND channel = 'b2c'`, p.ID))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payout.succeeded:"+p.ID))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payout_balances WHERE payout_id = $1 AND utility_cents = 1011600`, p.ID))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payout.balance_low:"+p.ID),
			"10,116 KES is below the 20,000 KES threshold")
		// The simulator saw exactly one request for it.
		require.Equal(t, 1, b.sim.Stats().B2CByOriginator[p.OriginatorConversationID])
	})

	t.Run("failure codes map to reasons", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for code, reason := range map[string]payout.FailureReason{"1": payout.ReasonInsufficientBalance,
			"2001": payout.ReasonInitiatorInvalid, "SFC_IC0003": payout.ReasonInvalidReceiver, "17": payout.ReasonOther} {
			p := b.submitted(t, mpesasim.PhoneSuccess)
			body := mpesasim.B2CResultBody(p.OriginatorConversationID, p.ConversationID, code, "no", 0, "", "", time.Time{})
			require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, body))
			got := b.get(t, p.ID)
			require.Equal(t, payout.Failed, got.Status, code)
			require.Equal(t, string(reason), got.FailureReason, code)
			require.Equal(t, code, got.ResultCode)
			require.Nil(t, got.NextQueryAt)
		}
	})

	t.Run("an answer whose ConversationID disagrees is ignored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.submitted(t, mpesasim.PhoneSuccess)
		forged := mpesasim.B2CResultBody(p.OriginatorConversationID, "AG_forged", "0", "ok", p.Amount, "SGX0000002", p.Phone, b.now)
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, forged))
		require.Equal(t, payout.Submitted, b.get(t, p.ID).Status)
		require.Zero(t, b.count(t, `SELECT count(*) FROM payment_ledger WHERE mpesa_receipt = 'SGX0000002'`))
	})

	t.Run("a failure after a success, or a success after a failure, needs review", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.submitted(t, mpesasim.PhoneSuccess)
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, success(p, "SGX0000003")))
		fail := mpesasim.B2CResultBody(p.OriginatorConversationID, p.ConversationID, "1", "no", 0, "", "", time.Time{})
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, fail))
		require.Equal(t, payout.NeedsReview, b.get(t, p.ID).Status)

		q := b.submitted(t, mpesasim.PhoneSuccess)
		fail = mpesasim.B2CResultBody(q.OriginatorConversationID, q.ConversationID, "1", "no", 0, "", "", time.Time{})
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, fail))
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, success(q, "SGX0000004")))
		got := b.get(t, q.ID)
		require.Equal(t, payout.NeedsReview, got.Status)
		require.Contains(t, got.ReviewReason, "after a failure")
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_ledger WHERE mpesa_receipt = 'SGX0000004'`),
			"evidence of money is recorded")
	})

	t.Run("a receipt already in the ledger for a payment needs review", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		payment := uuid.NewString()
		_, err := b.pool.Exec(ctx, `INSERT INTO payments (id, job_id, customer_id, phone, amount) VALUES ($1, 'j', 'c', '254708374149', 250)`, payment)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `INSERT INTO payment_ledger (mpesa_receipt, payment_id, checkout_request_id, amount_cents)
			VALUES ('SGX0000005', $1, 'ws_CO_1', 25000)`, payment)
		require.NoError(t, err)
		p := b.submitted(t, mpesasim.PhoneSuccess)
		require.NoError(t, b.apply(t, mpesa.InboxRouteB2CResult, success(p, "SGX0000005")))
		got := b.get(t, p.ID)
		require.Equal(t, payout.NeedsReview, got.Status)
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_ledger WHERE mpesa_receipt = 'SGX0000005'`))
	})

	t.Run("a queue timeout makes it unknown; a status result settles it", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, status := range []string{"Completed", "Failed"} {
			p := b.submitted(t, mpesasim.PhoneSuccess)
			require.NoError(t, b.apply(t, mpesa.InboxRouteB2CTimeout, mpesasim.B2CTimeoutBody(p.OriginatorConversationID, p.ConversationID)))
			require.Equal(t, payout.Unknown, b.get(t, p.ID).Status)
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payout.unknown:"+p.ID))
			// 1.0-era keys with spaces, a numeric Amount and a key without Value.
			body := fmt.Sprintf(`{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"ok","OriginatorConversationID":"Q-%[1]s",
				"ConversationID":"AG_Q_%[1]s","ResultParameters":{"ResultParameter":[
				{"Key":"Receipt No","Value":"SGS%[2]s"},{"Key":"Transaction Reason"},
				{"Key":"Originator Conversation ID","Value":%[3]q},{"Key":"Conversation ID","Value":%[4]q},
				{"Key":"Amount","Value":250},{"Key":"Transaction Status","Value":%[5]q},
				{"Key":"Credit Party Name","Value":"2547*****149 - Ōkubo 大久保"}]}}}`,
				p.ID[:8], status[:4], p.OriginatorConversationID, p.ConversationID, status)
			require.NoError(t, b.apply(t, mpesa.InboxRouteStatusResult, []byte(body)))
			got := b.get(t, p.ID)
			if status == "Completed" {
				require.Equal(t, payout.Succeeded, got.Status)
				require.Equal(t, "SGSComp", got.MpesaReceipt)
			} else {
				require.Equal(t, payout.Failed, got.Status)
				require.Equal(t, string(payout.ReasonOther), got.FailureReason)
			}
		}
	})

	t.Run("a status result that answers nothing changes nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.submitted(t, mpesasim.PhoneSuccess)
		_, err := b.pool.Exec(ctx, `UPDATE payouts SET status_query_originator_id = 'Q-nothing' WHERE id = $1`, p.ID)
		require.NoError(t, err)
		body := `{"Result":{"ResultCode":2032,"ResultDesc":"The transaction does not exist.","OriginatorConversationID":"Q-nothing","ConversationID":"AG_Q"}}`
		require.NoError(t, b.apply(t, mpesa.InboxRouteStatusResult, []byte(body)))
		require.Equal(t, payout.Submitted, b.get(t, p.ID).Status)
	})

	t.Run("a body that is not a result is refused permanently", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.ErrorIs(t, b.apply(t, mpesa.InboxRouteB2CResult, []byte(`{"Body":{}}`)), mpesa.ErrInvalidResult)
	})
}

// TestSubmitNeverResends: a payout claimed by an attempt that died before
// recording Daraja's answer is never sent again; it becomes unknown, is
// asked about with Transaction Status, and goes to needs_review at the
// final deadline.
func TestSubmitNeverResends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.create(t, mpesasim.PhoneSuccess)
	_, err := payout.NewStore(b.pool).ClaimSubmit(ctx, p.ID, b.now) // the crashed attempt
	require.NoError(t, err)

	require.NoError(t, payout.Submit(ctx, b.deps, p.ID))
	require.Equal(t, payout.Unknown, b.get(t, p.ID).Status)
	require.Zero(t, b.sim.Stats().B2CRequests, "never sent")

	require.NoError(t, payout.Reconcile(ctx, b.deps))
	got := b.get(t, p.ID)
	require.Equal(t, 1, b.sim.Stats().StatusQueries)
	require.NotEmpty(t, got.StatusQueryOriginatorID)
	require.NotNil(t, got.View().StatusQuery)
	require.Equal(t, b.now.Add(time.Minute), got.NextQueryAt.UTC())

	b.now = b.now.Add(time.Minute)
	require.NoError(t, payout.Reconcile(ctx, b.deps))
	require.Equal(t, b.now.Add(2*time.Minute), b.get(t, p.ID).NextQueryAt.UTC(), "backoff doubles")

	b.now = b.now.Add(time.Hour)
	require.NoError(t, payout.Reconcile(ctx, b.deps))
	got = b.get(t, p.ID)
	require.Equal(t, payout.NeedsReview, got.Status)
	require.Zero(t, b.sim.Stats().B2CRequests, "still never sent")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payout.needs_review:"+p.ID))
}

// TestCreateValidatesAndIsIdempotent: every invalid field is reported; the
// same key and request is the same payout, a different request is refused.
func TestCreateValidatesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	amount := int64(5)
	_, err := payout.Create(ctx, b.deps, uuid.NewString(), payout.CreateRequest{Phone: "123", Amount: &amount})
	require.ErrorContains(t, err, "technician_id")
	require.ErrorContains(t, err, "phone")
	require.ErrorContains(t, err, "amount")

	id := payout.IDFor("svc", "key-1")
	amount = 300
	req := payout.CreateRequest{TechnicianID: "t", JobID: "j", Phone: "0708374149", Amount: &amount}
	p1, err := payout.Create(ctx, b.deps, id, req)
	require.NoError(t, err)
	p2, err := payout.Create(ctx, b.deps, id, req)
	require.NoError(t, err)
	require.Equal(t, p1.OriginatorConversationID, p2.OriginatorConversationID)
	other := int64(301)
	req.Amount = &other
	_, err = payout.Create(ctx, b.deps, id, req)
	require.ErrorIs(t, err, payout.ErrKeyReused)
}
