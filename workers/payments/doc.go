// Package payments adapts the payment domain (pkg/payment) to the worker
// transports: the Asynq tasks mpesa:stk_push, payments:reconcile and payments:confirm, and the
// RabbitMQ consumer of stored STK callback notices. Every handler decodes
// its transport, calls one pkg/payment function and maps the outcome.
package payments
