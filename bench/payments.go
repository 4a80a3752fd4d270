package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/mpesa/mpesasim"
)

// benchPayments measures payments end to end: each operation creates a
// payment (POST /v1/payments, 202), then waits for its payment.paid event
// on the events exchange. In between: the STK push task, the Daraja
// simulator, its callback to our webhook (inbox commit), the relay, the
// callback consumer applying it, and the outbox event. The simulated
// customer answers after --sim-delay (in-process only).
func benchPayments(ctx context.Context, b *benchRun) error {
	if b.flags.Baselines {
		if err := b.pgBaseline(ctx); err != nil {
			return err
		}
	}
	s, err := b.system(ctx, func(c *config.Config) {
		c.Payments.SimCallbackDelay = max(b.flags.SimDelay, time.Microsecond) // 0 would mean the simulator's 1 s default
	})
	if err != nil {
		return err
	}
	defer s.stop()
	if !s.hasRoute(http.MethodPost, "/v1/payments") {
		return errors.New("payments scenario: POST /v1/payments is not registered (payments domain missing from api/routes.go)")
	}
	exchange := b.cfg.AMQP.Exchange
	if s.in != nil {
		exchange = s.cfg.AMQP.Exchange
	}

	var waiters kit.Waiters
	var outcomes sync.Map // payment id → status of its first event
	lctx, stopListen := context.WithCancel(ctx)
	wait, err := kit.Listen(lctx, b.cfg.AMQP.URL.Reveal(), exchange,
		[]string{events.RoutingKeyPaymentPaid, events.RoutingKeyPaymentFailed, events.RoutingKeyPaymentNeedsReview},
		func(d amqp.Delivery) {
			var p events.Payment
			if json.Unmarshal(d.Body, &p) == nil {
				outcomes.LoadOrStore(p.ID, p.Status)
				waiters.Done(p.ID)
			}
		})
	if err != nil {
		stopListen()
		return err
	}
	defer func() { stopListen(); wait() }()

	c := newClient(s, b.flags.Opts.Concurrency)
	defer c.close()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	_, err = b.measure(ctx, "payments.e2e_paid", "payment", "baseline.pg_commit", &kit.Target{MinRate: 5000},
		func(ctx context.Context) error {
			n := strconv.FormatInt(seq.Add(1), 10)
			body := []byte(`{"job_id":"bench-` + run + `-` + n + `","customer_id":"bench","phone":"` +
				mpesasim.PhoneSuccess + `","amount":1500}`)
			resp, err := c.do(ctx, http.MethodPost, "/v1/payments", body, http.StatusAccepted, nil)
			if err != nil {
				return err
			}
			var p struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(resp, &p); err != nil || p.ID == "" {
				return fmt.Errorf("create payment: no id in %.200s", resp)
			}
			done := waiters.Add(p.ID)
			if _, early := outcomes.Load(p.ID); early {
				waiters.Forget(p.ID) // the event beat us to the waiter
			} else if err := waiters.Wait(ctx, p.ID, done); err != nil {
				return fmt.Errorf("payment %s: no outcome event: %w", p.ID, err)
			}
			st, _ := outcomes.LoadAndDelete(p.ID)
			if st != "paid" {
				return fmt.Errorf("payment %s ended %v, want paid", p.ID, st)
			}
			return nil
		})
	return err
}
