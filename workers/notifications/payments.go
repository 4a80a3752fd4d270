package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
)

// categoryPayments is the category of payment notifications (users may
// mute it).
const categoryPayments = "payments"

// notificationNamespace derives notification ids from source keys, so the
// same event always names the same notification.
var notificationNamespace = uuid.MustParse("6f1c7a52-3d0e-4b7e-9a55-2a8f0b4c9d17")

// handlePayment consumes payment.paid and payment.failed; the job's
// technician (TechnicianID, optional) is told only on payment.paid. Each recipient's
// notification has a source key made of the routing key, the payment id and
// the recipient's role, so a redelivered (or re-published) event notifies
// nobody twice.
func (w *worker) handlePayment(ctx context.Context, d amqp.Delivery) error {
	var p events.Payment
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return amqpx.Permanent(fmt.Errorf("decode %s: %w", d.RoutingKey, err))
	}
	if p.ID == "" || p.CustomerID == "" {
		return amqpx.Permanent(fmt.Errorf("%s: payment id and customer_id are required", d.RoutingKey))
	}
	var reqs []events.NotificationRequested
	switch d.RoutingKey {
	case events.RoutingKeyPaymentPaid:
		reqs = append(reqs, paymentNotification(d.RoutingKey, p, "customer", p.CustomerID, "payment_received",
			events.NotificationPriorityHigh, map[string]any{"amount": p.Amount, "receipt": deref(p.MpesaReceipt), "job_id": p.JobID}))
		if p.TechnicianID != "" {
			reqs = append(reqs, paymentNotification(d.RoutingKey, p, "technician", p.TechnicianID, "job_funded",
				events.NotificationPriorityNormal, map[string]any{"amount": p.Amount, "job_id": p.JobID}))
		}
	case events.RoutingKeyPaymentFailed:
		reqs = append(reqs, paymentNotification(d.RoutingKey, p, "customer", p.CustomerID, "payment_failed",
			events.NotificationPriorityHigh, map[string]any{"amount": p.Amount, "reason": deref(p.FailureReason), "job_id": p.JobID}))
	default:
		return amqpx.Permanent(fmt.Errorf("unexpected routing key %q", d.RoutingKey))
	}
	var errs []error
	for _, r := range reqs {
		if err := w.create(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func paymentNotification(routingKey string, p events.Payment, role, userID, template, priority string, params map[string]any) events.NotificationRequested {
	key := "event:" + routingKey + ":" + p.ID + ":" + role
	return events.NotificationRequested{
		ID:        uuid.NewSHA1(notificationNamespace, []byte(key)).String(),
		SourceKey: key,
		UserIDs:   []string{userID},
		Template:  template,
		Params:    params,
		Data:      map[string]any{"payment_id": p.ID, "job_id": p.JobID},
		Category:  categoryPayments,
		Priority:  priority,
		// A later payment notification for the same job replaces this one.
		CollapseID: "payment-" + p.JobID,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
