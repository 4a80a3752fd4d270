// Package notifications adapts the transports to pkg/notification: the
// push:send and push:receipts Asynq tasks, the notification.requested event
// and the payment events that notify customers and technicians. Each
// handler decodes its message, calls one function of pkg/notification and
// maps the outcome (a *notification.ValidationError or a missing
// notification is permanent; anything else is retried). The domain itself —
// fan-out, sending, receipts, quiet hours, templates — lives in
// pkg/notification.
package notifications
