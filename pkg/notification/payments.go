package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"fundigo/pkg/events"
	"fundigo/pkg/outcome"
)

// categoryPayments is the category of payment notifications (users may
// mute it).
const categoryPayments = "payments"

// paymentNamespace derives notification ids from source keys, so the same
// payment event always names the same notifications.
var paymentNamespace = uuid.MustParse("6f1c7a52-3d0e-4b7e-9a55-2a8f0b4c9d17")

// NotifyPayment tells the people of a settled payment: on payment.paid the
// customer (high priority) and the job's technician when the payment names
// one; on payment.failed the customer, with the reason in plain words. Each
// recipient's notification has a source key made of the routing key, the
// payment id and the recipient's role, so a redelivered (or re-published)
// event notifies nobody twice. A *ValidationError means the event can never
// be handled.
func (p *Pipeline) NotifyPayment(ctx context.Context, routingKey string, pay events.Payment) error {
	reqs, err := paymentRequests(routingKey, pay)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range reqs {
		if err := p.Accept(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PaymentEvent is one payment event for NotifyPayments: its routing key
// and payload.
type PaymentEvent struct {
	RoutingKey string
	Payment    events.Payment
}

// NotifyPayments is NotifyPayment for many events at once, with one result
// per event, in order (nil: notified, or notified before). The
// notifications are the same (same ids, source keys, contents), so a
// redelivered event notifies nobody twice, whether it comes alone or in a
// batch. With SendLoop, as Accept does there, they are only stored: one
// statement for the whole batch (INSERT … SELECT FROM unnest … ON CONFLICT
// (source_key) DO NOTHING), and the sender loop fans them out. An event
// the domain refuses fails alone (*ValidationError); a statement refused
// for its data (a permanent error: one bad row would fail them all) is
// retried event by event, so only the bad event fails. Without SendLoop
// each event goes through NotifyPayment.
func (p *Pipeline) NotifyPayments(ctx context.Context, evs []PaymentEvent) []error {
	errs := make([]error, len(evs))
	if !p.cfg.SendLoop {
		for i, e := range evs {
			errs[i] = p.NotifyPayment(ctx, e.RoutingKey, e.Payment)
		}
		return errs
	}
	reqs := make([]Request, 0, len(evs)+len(evs)/2)
	from := make([]int, 0, cap(reqs)) // reqs[j] is for evs[from[j]]
	for i, e := range evs {
		rs, err := paymentRequests(e.RoutingKey, e.Payment)
		if err != nil {
			errs[i] = err
			continue
		}
		for _, r := range rs {
			if err := Validate(&r); err != nil {
				errs[i] = errors.Join(errs[i], err)
				continue
			}
			reqs = append(reqs, r)
			from = append(from, i)
		}
	}
	p.storeMany(ctx, reqs, from, errs, "payment notifications", func(i int) error {
		return p.NotifyPayment(ctx, evs[i].RoutingKey, evs[i].Payment)
	})
	return errs
}

// storeMany stores reqs (validated, source keys set) with one statement,
// each source key once (an event or request twice in one batch is one
// notification); reqs[j] came from input from[j] (several requests of one
// input are adjacent), whose result goes to errs[from[j]]. A statement
// refused for its data (a permanent error: one bad row fails them all) is
// retried input by input with one, so only the bad input fails; any other
// error is every input's, repeated ones included.
func (p *Pipeline) storeMany(ctx context.Context, reqs []Request, from []int, errs []error, what string, one func(i int) error) {
	seen := make(map[string]bool, len(reqs))
	reqs = slices.DeleteFunc(slices.Clone(reqs), func(r Request) bool {
		dup := seen[r.SourceKey]
		seen[r.SourceKey] = true
		return dup
	})
	if len(reqs) == 0 {
		return
	}
	_, err := p.store.InsertNotifications(ctx, reqs)
	if err == nil {
		return
	}
	oneByOne := outcome.Classify(err) == outcome.PermanentFailure && len(reqs) > 1
	if oneByOne {
		p.logger(ctx).Warn().Err(err).Int("notifications", len(reqs)).
			Msg(what + " refused as a batch; storing them one at a time")
	}
	for j, i := range from {
		if j > 0 && from[j-1] == i {
			continue // the input's other request
		}
		if oneByOne {
			errs[i] = one(i)
		} else {
			errs[i] = errors.Join(errs[i], err)
		}
	}
}

func paymentRequests(routingKey string, pay events.Payment) ([]Request, error) {
	if pay.ID == "" || pay.CustomerID == "" {
		return nil, &ValidationError{Subject: "notification input", Fields: []FieldError{{Field: "payment", Message: routingKey + ": payment id and customer_id are required"}}}
	}
	switch routingKey {
	case events.RoutingKeyPaymentPaid:
		reqs := []Request{paymentRequest(routingKey, pay, "customer", pay.CustomerID, "payment_received",
			PriorityHigh, map[string]any{"amount": pay.Amount, "receipt": deref(pay.MpesaReceipt), "job_id": pay.JobID})}
		if pay.TechnicianID != "" {
			reqs = append(reqs, paymentRequest(routingKey, pay, "technician", pay.TechnicianID, "job_funded",
				PriorityNormal, map[string]any{"amount": pay.Amount, "job_id": pay.JobID}))
		}
		return reqs, nil
	case events.RoutingKeyPaymentFailed:
		return []Request{paymentRequest(routingKey, pay, "customer", pay.CustomerID, "payment_failed",
			PriorityHigh, map[string]any{"amount": pay.Amount, "reason": deref(pay.FailureReason), "job_id": pay.JobID})}, nil
	}
	return nil, &ValidationError{Subject: "notification input", Fields: []FieldError{{Field: "routing_key", Message: fmt.Sprintf("unexpected routing key %q", routingKey)}}}
}

func paymentRequest(routingKey string, pay events.Payment, role, userID, template, priority string, params map[string]any) Request {
	key := "event:" + routingKey + ":" + pay.ID + ":" + role
	return Request{
		ID:        uuid.NewSHA1(paymentNamespace, []byte(key)).String(),
		SourceKey: key,
		UserIDs:   []string{userID},
		Template:  template,
		Params:    params,
		Data:      map[string]any{"payment_id": pay.ID, "job_id": pay.JobID},
		Category:  categoryPayments,
		Priority:  priority,
		// A later payment notification for the same job replaces this one.
		CollapseID: "payment-" + pay.JobID,
	}
}

// NotifyPayout tells a technician that their payout succeeded (template
// payout_sent, en/sw). The source key is the routing key, the payout id and
// the role, so a redelivered event notifies nobody twice. Other payout
// events notify nobody (operators watch them).
func (p *Pipeline) NotifyPayout(ctx context.Context, routingKey string, po events.Payout) error {
	if routingKey != events.RoutingKeyPayoutSucceeded {
		return nil
	}
	if po.ID == "" || po.TechnicianID == "" {
		return &ValidationError{Subject: "notification input", Fields: []FieldError{{Field: "payout", Message: routingKey + ": payout id and technician_id are required"}}}
	}
	key := "event:" + routingKey + ":" + po.ID + ":technician"
	return p.Accept(ctx, Request{
		ID:        uuid.NewSHA1(paymentNamespace, []byte(key)).String(),
		SourceKey: key,
		UserIDs:   []string{po.TechnicianID},
		Template:  "payout_sent",
		Params:    map[string]any{"amount": po.Amount, "receipt": deref(po.MpesaReceipt), "job_id": po.JobID},
		Data:      map[string]any{"payout_id": po.ID, "job_id": po.JobID},
		Category:  categoryPayments,
		Priority:  PriorityHigh,
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
