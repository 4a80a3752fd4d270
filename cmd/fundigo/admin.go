package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hibiken/asynqmon"

	"fundigo/pkg/admin"
	"fundigo/pkg/health"
	"fundigo/pkg/metrics"
	"fundigo/workers"
)

// readiness is what /readyz of a role checks. Only what the role cannot work
// without is required; the rest is reported as degraded (200):
//   - api: PostgreSQL (Redis — rate limits, task enqueue — and RabbitMQ are
//     optional: a broker blip must not take the webhook endpoint away);
//   - worker and all: PostgreSQL, Redis and RabbitMQ;
//   - scheduler: Redis and PostgreSQL (it uses no RabbitMQ).
func (in *infra) readiness(role string) *health.Readiness {
	pg := health.Check{Name: "postgres", Ping: in.pool.Ping, Required: true}
	rd := health.Check{Name: "redis", Ping: func(ctx context.Context) error { return in.redis.Ping(ctx).Err() }, Required: role != "api"}
	mq := health.Check{Name: "rabbitmq", Ping: in.amqp.Ping, Required: role != "api"}
	if role == "scheduler" {
		return health.NewReadiness(pg, rd)
	}
	return health.NewReadiness(pg, rd, mq)
}

// adminHandler is the admin listener's mux for this process.
func (in *infra) adminHandler() http.Handler {
	return admin.Handler(admin.Options{Registry: in.registry, Readiness: in.ready, Mounts: in.adminMounts})
}

// runWithAdmin runs a role with the process's admin listener
// (FUNDIGO_ADMIN_ADDR) beside it; the listener outlives the role's drain and
// stops when the role returns.
func (in *infra) runWithAdmin(ctx context.Context, role func(ctx context.Context) error) error {
	srv, err := admin.Listen(in.cfg.Ops.AdminAddr, in.adminHandler(), in.log)
	if err != nil {
		return err
	}
	actx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(actx) }()
	err = role(ctx)
	stop()
	if aerr := <-done; err == nil {
		err = aerr
	}
	return err
}

// registerWorkerCollectors adds the scrape-time collectors of a worker
// process: Asynq queues, the RabbitMQ queues it consumes (and their DLQs),
// and the durable state in PostgreSQL (outbox, inbox, payments, pushes).
func (in *infra) registerWorkerCollectors(w *workers.Server) {
	in.registry.MustRegister(
		metrics.NewAsynq(in.insp, in.queues.All()),
		metrics.NewAMQPQueues(in.amqp, w.ConsumerQueues),
		metrics.NewSQL(in.pool),
	)
}

// queueUIPath is where asynqmon answers on the admin listener.
const queueUIPath = "/asynq"

// mountQueueUI puts asynqmon (the Asynq queue UI: queues, tasks, retries,
// archived tasks) on the admin listener at /asynq/, behind the service keys
// (FUNDIGO_API_KEYS; X-API-Key or the Basic auth password). Payloads and
// results are not shown: they may name customers.
func (in *infra) mountQueueUI() {
	hidden := func(_ string, b []byte) string { return fmt.Sprintf("(%d bytes, not shown)", len(b)) }
	in.queueUI = asynqmon.New(asynqmon.Options{
		RootPath:         queueUIPath,
		RedisConnOpt:     in.redisOpt,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(hidden),
		ResultFormatter:  asynqmon.ResultFormatterFunc(hidden),
	})
	if in.adminMounts == nil {
		in.adminMounts = map[string]http.Handler{}
	}
	in.adminMounts[queueUIPath+"/"] = admin.RequireKey(in.cfg.Auth.APIKeys, in.queueUI)
}
