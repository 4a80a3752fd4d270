// Package metrics holds FundiGO's Prometheus metrics beyond HTTP: counters
// kept in line by building blocks (the Asynq task middleware, the AMQP
// handler wrapper, the push provider transport and limiter, the Celery
// handler wrapper) and collectors that read state at scrape time (Asynq
// Inspector, RabbitMQ queue depths, SQL: outbox, inbox, payments, pushes,
// schedules). Every name has the fundigo_ prefix and every label a bounded
// set of values: task types and queues declared in code, routes, statuses
// and reasons from CHECK-constrained or code-defined sets.
//
// Families() lists every family this package and the HTTP middleware
// register, for the dashboard check (deployments/grafana) and the scrape test.
package metrics
