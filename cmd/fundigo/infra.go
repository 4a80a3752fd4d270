package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/config"
	"fundigo/pkg/health"
	"fundigo/pkg/logging"
	"fundigo/pkg/metrics"
	"fundigo/pkg/redisconn"
	"fundigo/pkg/sentryx"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tracing"
)

// infra holds the connections one process shares between its roles. None of
// them needs its service at start: pgx, go-redis and amqpx connect lazily and
// reconnect by themselves, so a role starts while a service is down and
// /readyz reports it until it is back.
type infra struct {
	cfg      config.Config
	log      zerolog.Logger
	pool     *pgxpool.Pool
	redis    *redis.Client
	redisOpt asynq.RedisConnOpt
	tasks    *asynq.Client
	insp     *asynq.Inspector
	queues   tasks.Queues
	amqp     *amqpx.Conn
	pub      *amqpx.Publisher
	registry *prometheus.Registry
	// ready is the role's readiness (/readyz, fundigo_dependency_up).
	ready *health.Readiness
	// metrics are the in-line counters the building blocks update.
	metrics *metrics.Inline
	// adminMounts are extra handlers on the admin listener (queue UI).
	adminMounts map[string]http.Handler
	// tracing is the process's OpenTelemetry provider (off by default).
	tracing *tracing.Provider
	// errors reports to Sentry (FUNDIGO_SENTRY_DSN; disabled when unset).
	errors *sentryx.Reporter
	// queueUI is asynqmon, mounted at /asynq/ on the admin listener.
	queueUI *asynqmon.HTTPHandler
}

// openInfra opens the shared connections. ctx may carry a test span
// exporter (tracing.WithExporter); it is not kept.
func openInfra(ctx context.Context, cfg config.Config, log zerolog.Logger, name string) (*infra, error) {
	in := &infra{cfg: cfg, log: log, queues: tasks.NewQueues(cfg.Tasks.QueuePrefix)}
	var err error
	if in.tracing, err = tracing.Setup(ctx, cfg.Tracing, tracing.Info{Version: version, Role: name}); err != nil {
		return nil, err
	}
	if in.errors, err = sentryx.New(cfg.Sentry, sentryx.Info{Version: version, Role: name}); err != nil {
		in.close(context.Background())
		return nil, err
	}
	poolCfg := store.PoolConfig{
		MaxConns: poolConns(cfg, name), ConnectTimeout: cfg.Database.ConnectTimeout,
		StatementTimeout: cfg.Database.StatementTimeout, LockTimeout: cfg.Database.LockTimeout,
	}
	if in.tracing.Enabled() {
		// Statements (with $n placeholders) but never their arguments.
		poolCfg.Tracer = otelpgx.NewTracer(otelpgx.WithDisableConnectionDetailsInAttributes())
	}
	pc, err := store.NewPoolConfig(cfg.Database.URL.Reveal(), poolCfg)
	if err != nil {
		in.close(context.Background())
		return nil, errors.New("parse FUNDIGO_DATABASE_URL: invalid") // the error may echo the password
	}
	if in.pool, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
		in.close(context.Background())
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	if in.redis, in.redisOpt, err = redisconn.Open(cfg.Redis.URL.Reveal()); err != nil {
		in.close(context.Background())
		return nil, fmt.Errorf("parse FUNDIGO_REDIS_URL: %w", err)
	}
	if in.tracing.Enabled() {
		if err := redisconn.Trace(in.redis); err != nil {
			in.close(context.Background())
			return nil, err
		}
	}
	in.tasks = asynq.NewClient(in.redisOpt)
	in.mountQueueUI()
	in.insp = asynq.NewInspector(in.redisOpt)
	if in.amqp, err = amqpx.NewConn(log, amqpx.ConnConfig{URL: cfg.AMQP.URL.Reveal(), Name: "fundigo-" + name}); err != nil {
		in.close(context.Background())
		return nil, fmt.Errorf("amqp: %w", err)
	}
	if in.pub, err = amqpx.NewPublisher(in.amqp, amqpx.PublisherConfig{}); err != nil {
		in.close(context.Background())
		return nil, fmt.Errorf("amqp publisher: %w", err)
	}
	in.registry = prometheus.NewRegistry()
	in.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.metrics = metrics.New(in.registry)
	in.ready = in.readiness(name)
	in.registry.MustRegister(in.ready)
	return in, nil
}

// poolConns sizes a role's PostgreSQL pool: FUNDIGO_DATABASE_MAX_CONNS,
// plus, in a process that runs the workers, one connection per push sender
// loop (FUNDIGO_PUSH_SEND_LOOPS + FUNDIGO_PUSH_FANOUT_LOOPS).
//
// Why not one connection per goroutine: a worker process has 44 Asynq
// goroutines at the default concurrency (20/20/4), a few dozen AMQP
// handlers and the relay, but they hold a connection only for a statement
// or a transaction, and most wait in Redis or RabbitMQ; sized to all of
// them, a worker alone would take most of PostgreSQL's 100 connections for
// no throughput (PostgreSQL on two cores runs two statements at a time).
// So they share the configured pool and wait for a connection when it is
// busy (pgxpool's acquire, bounded by their context). The sender loops are
// different: each runs back-to-back statements and transactions for as
// long as there is work, holding at most one connection at a time (never a
// second while it holds one), and they are the push path's throughput; in
// the shared pool they queued behind every consumer (the bench's push
// phase at fanout 1 counted 5,624 waited acquires, 24.7 s of waiting in a
// 34 s phase). So the pool grows by what the loops can hold at once:
// adding loops adds their connections instead of taking them from the tasks
// and consumers (capacity, not a reservation: pgxpool hands any free
// connection to whoever asks first). The total stays bounded because the
// loop counts are (config.MaxPushLoops each).
func poolConns(cfg config.Config, role string) int32 {
	n := cfg.Database.MaxConns
	switch role {
	case "worker", "all", "bench":
		n += int32(cfg.Notifications.SendLoops + cfg.Notifications.FanOutLoops)
	}
	return n
}

// close releases everything in reverse order of dependence; ctx bounds the
// wait for in-flight publishes.
func (in *infra) close(ctx context.Context) {
	if in.pub != nil {
		_ = in.pub.Close(ctx)
	}
	if in.amqp != nil {
		_ = in.amqp.Close(ctx)
	}
	if in.insp != nil {
		_ = in.insp.Close()
	}
	if in.queueUI != nil {
		_ = in.queueUI.Close()
	}
	if in.tasks != nil {
		_ = in.tasks.Close()
	}
	if in.redis != nil {
		_ = in.redis.Close()
	}
	if in.pool != nil {
		in.pool.Close()
	}
	if !in.errors.Flush(2 * time.Second) {
		in.log.Warn().Msg("error reports not sent at shutdown")
	}
	if err := in.tracing.Shutdown(ctx); err != nil {
		in.log.Warn().Err(err).Msg("spans not exported at shutdown")
	}
}

// shutdownCtx is a fresh context for the drain after ctx was cancelled.
func (in *infra) shutdownCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), in.cfg.ShutdownTimeout+5*time.Second)
}

// withInfra loads the configuration, opens the shared connections, runs fn
// and closes everything (bounded by the shutdown timeout) when fn returns.
// external marks a role that calls Daraja and Expo (the worker): with
// FUNDIGO_SIMULATORS=true the simulators for what the configuration leaves
// unset run in-process first (as in `all`, rewriting the configuration to
// reach them); otherwise a missing configuration is an error naming the
// variables. Other roles never start a simulator.
func (e env) withInfra(ctx context.Context, name string, external bool, fn func(in *infra) error) error {
	cfg, log, err := e.load()
	if err != nil {
		return err
	}
	log = logging.WithRole(log, name)
	if external && !cfg.Ops.SimulatorsOr(false) {
		if err := cfg.RequireExternalAPIs(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if external && cfg.Ops.SimulatorsOr(false) {
		sims, err := startSimulators(ctx, &cfg, log)
		if err != nil {
			return err
		}
		defer sims.close()
	}
	in, err := openInfra(ctx, cfg, log, name)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := in.shutdownCtx()
		defer cancel()
		in.close(sctx)
	}()
	if err := requireSchema(ctx, in, name); err != nil {
		return err
	}
	return fn(in)
}

// clientTransport is next (nil: the default transport) with a client span
// per call and the W3C traceparent sent along, when tracing is on.
func (in *infra) clientTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if !in.tracing.Enabled() {
		return next
	}
	return otelhttp.NewTransport(next, otelhttp.WithPropagators(tracing.Propagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Host + r.URL.Path }))
}
