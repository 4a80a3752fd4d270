package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/store"
)

// callbacksDefaultN is the callbacks scenario's N when --count is not set.
const callbacksDefaultN = 10000

// callbackPhone and callbackAmount are every fixture payment's; the
// callbacks carry the same, so each one is a clean success.
const (
	callbackPhone  = "254708374149"
	callbackAmount = 1500 // KES
)

// benchCallbacks measures the money path at scale (issue 20): N payments are
// inserted straight into the database as awaiting_callback (a fixture, no
// STK push), then N unique success callbacks, one per payment, are posted
// to the STK webhook at --concurrency. Two figures: the webhook's
// acknowledgements (each 200 only after the raw body was committed), and
// paid/s — N divided by the time from the first callback to the moment all
// N payments are paid, which includes the inbox, the route to the applier,
// the application and its outbox events. Both are compared with raw
// single-row commits measured just before, at the same concurrency.
//
// With --target the fixture goes into FUNDIGO_DATABASE_URL, which must be
// the target's database, and --callback-token is the target's webhook
// token. The callbacks come from loopback: an in-process system trusts
// 127.0.0.1/32 for them (FUNDIGO_MPESA_ALLOWED_CIDRS); a target must too.
func benchCallbacks(ctx context.Context, b *benchRun) error {
	n := int(b.flags.Opts.Count)
	if b.flags.Baselines {
		if err := b.pgBaseline(ctx); err != nil {
			return err
		}
	}
	s, err := b.system(ctx, nil)
	if err != nil {
		return err
	}
	defer s.stop()
	token, err := b.webhookToken(s, "callbacks")
	if err != nil {
		return err
	}
	var pool *pgxpool.Pool
	if s.in != nil {
		pool = s.in.Pool
	} else {
		if pool, err = store.Open(ctx, b.cfg.Database.URL.Reveal(), store.PoolConfig{MaxConns: 8}); err != nil {
			return fmt.Errorf("connect to the target's database: %w", err)
		}
		defer pool.Close()
	}

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	fx := callbackFixture{run: run, customer: "bench-callbacks-" + run, n: n}
	if err := fx.insert(ctx, pool); err != nil {
		return err
	}

	c := newClient(s, b.flags.Opts.Concurrency)
	defer c.close()
	path := "/v1/webhooks/mpesa/stk/" + token
	var next atomic.Int64
	o := b.options("callbacks.ack")
	stopProfile, err := b.profile("callbacks")
	if err != nil {
		return err
	}
	cpu := kit.StartCPU()
	start := time.Now()
	ack, err := kit.Run(ctx, "callbacks.ack", o, func(ctx context.Context) error {
		i := int(next.Add(1) - 1)
		if i >= n {
			return errors.New("more callbacks than fixture payments")
		}
		_, err := c.do(ctx, http.MethodPost, path, fx.callback(i), http.StatusOK, nil)
		return err
	})
	ack.Unit = "callback acked"
	b.add(ack, "baseline.pg_commit", nil)
	if err != nil {
		stopProfile()
		return err
	}
	open, waitErr := fx.waitPaid(ctx, pool, b.flags.PaidTimeout)
	elapsed := time.Since(start)
	stopProfile()
	paid := kit.Timed("callbacks.paid", int64(n-open), elapsed)
	cpu.Stop(&paid)
	paid.Unit, paid.Concurrency = "payment paid", b.flags.Opts.Concurrency
	paid.Note = fmt.Sprintf("%d payments awaiting_callback, %d callbacks posted (%d acked); clock from the first callback to the last payment paid",
		n, ack.Ops, ack.Ops-ack.Errors)
	statuses, err := fx.statuses(ctx, pool)
	if err == nil && statuses["paid"] != n {
		err = fmt.Errorf("%d of %d payments paid: %v", statuses["paid"], n, statuses)
	}
	if err = errors.Join(waitErr, err); err != nil {
		paid.Errors, paid.FirstError = int64(n-statuses["paid"]), err.Error()
	}
	var target *kit.Target // issue 20: paid/s at least the same-run single-row commit rate
	if b.flags.Baselines {
		target = &kit.Target{MinRatio: 1}
	}
	b.add(paid, "baseline.pg_commit", target)
	if ack.Errors > 0 && err == nil {
		err = fmt.Errorf("%d of %d callbacks not acknowledged: %s", ack.Errors, ack.Ops, ack.FirstError)
	}
	return err
}

// callbacksDefaults bounds every phase by N = --count (default 10,000), not
// by time, and leaves out the warmup: there is one callback per fixture
// payment and none to spare, and the baseline makes as many commits.
func callbacksDefaults(f *Flags) {
	if f.Opts.Count == 0 {
		f.Opts.Count = callbacksDefaultN
	}
	f.Opts.Duration, f.Opts.Warmup = 0, 0
}

// webhookToken is the STK webhook path token: the in-process system's, or
// --callback-token for a target.
func (b *benchRun) webhookToken(s *system, scenario string) (string, error) {
	const route = "/v1/webhooks/mpesa/stk/:token"
	if !s.hasRoute(http.MethodPost, route) {
		return "", errors.New(scenario + " scenario: POST " + route + " is not registered (payments domain missing from api/routes.go)")
	}
	if s.in != nil {
		return s.cfg.Payments.CallbackToken.Reveal(), nil
	}
	if b.flags.CallbackToken == "" {
		return "", errors.New(scenario + " scenario: --callback-token is required with --target (FUNDIGO_MPESA_CALLBACK_TOKEN of that system)")
	}
	return b.flags.CallbackToken, nil
}

// callbackFixture is the callbacks scenario's N payments of one run: payment
// i has CheckoutRequestID ws_CO_<run>_<i> and receipt B<end of run><i in base 36>.
type callbackFixture struct {
	run      string
	customer string
	n        int
}

func (f callbackFixture) checkoutID(i int) string {
	return "ws_CO_bench_" + f.run + "_" + strconv.Itoa(i)
}

// receipt is unique per payment and run: 10 upper-case letters and digits.
func (f callbackFixture) receipt(i int) string {
	seq := strconv.FormatInt(int64(i), 36)
	return strings.ToUpper("B" + f.run[len(f.run)-5:] + strings.Repeat("0", max(0, 4-len(seq))) + seq)
}

// callback is payment i's success callback as Daraja sends it.
func (f callbackFixture) callback(i int) []byte {
	return []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-bench-` + strconv.Itoa(i) + `","CheckoutRequestID":"` + f.checkoutID(i) +
		`","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[` +
		`{"Name":"Amount","Value":` + strconv.Itoa(callbackAmount) + `.00},{"Name":"MpesaReceiptNumber","Value":"` + f.receipt(i) + `"},` +
		`{"Name":"TransactionDate","Value":20261202102115},{"Name":"PhoneNumber","Value":` + callbackPhone + `}]}}}}`)
}
