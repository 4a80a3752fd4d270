package notification

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"fundigo/pkg/events"
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
