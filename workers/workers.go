package workers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/sentryx"
	"fundigo/pkg/tasks"
)

// Config sizes the pools.
type Config struct {
	// Exchange is the events exchange every consumer binds its queue to
	// (FUNDIGO_AMQP_EXCHANGE), set once here: domain packages name only the
	// routing keys. A ConsumerSpec that names its own exchange keeps it.
	Exchange string
	Queues   tasks.Queues
	// Concurrency sizes the task goroutines: one Asynq server per queue,
	// critical and default with Concurrency each, low with a sixth of it
	// (tasks.Queues.Concurrency).
	Concurrency int
	// ShutdownTimeout bounds the drain of in-flight tasks.
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often scheduled/retry tasks become due.
	DelayedTaskCheckInterval time.Duration
	// TaskCheckInterval bounds how long the server's fetch loop sleeps after
	// finding every queue empty (it sleeps half of it plus up to all of it).
	// Asynq's default of 1 s adds ~0.5 s to a task enqueued into a quiet
	// server (fundigo bench tasks --rate: p50 ~500 ms, 27 ms at 50 ms);
	// default 50 ms, at the cost of ~20 empty polls a second when idle.
	TaskCheckInterval time.Duration
	// Errors receives permanently failed tasks and dead-lettered messages,
	// and handler panics (Sentry); nil reports nothing.
	Errors *sentryx.Reporter
}

func (c *Config) setDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 20
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 25 * time.Second
	}
	if c.DelayedTaskCheckInterval == 0 {
		c.DelayedTaskCheckInterval = time.Second
	}
	if c.TaskCheckInterval == 0 {
		c.TaskCheckInterval = 50 * time.Millisecond
	}
	if c.Queues == (tasks.Queues{}) {
		c.Queues = tasks.NewQueues("")
	}
}

// Server owns the Asynq server and the consumers.
type Server struct {
	log       zerolog.Logger
	redis     asynq.RedisConnOpt
	conn      *amqpx.Conn
	cfg       Config
	mux       *asynq.ServeMux
	consumers []amqpx.ConsumerSpec
	amqpMW    []amqpx.MiddlewareFunc
	runners   []func(ctx context.Context) error
}

// New builds a Server; register handlers on Mux() and consumers with
// AddConsumer before Run. conn may be nil when no consumer is added.
func New(log zerolog.Logger, redis asynq.RedisConnOpt, conn *amqpx.Conn, cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{log: log.With().Str("component", "workers").Logger(), redis: redis, conn: conn, cfg: cfg, mux: asynq.NewServeMux()}
	// Outermost first: log the classified result of the handler, whose
	// panics became errors.
	s.mux.Use(traceTask(), logTask(s.log, cfg.Errors), tasks.Classify(), recoverTask(s.log, cfg.Errors))
	return s
}

// Mux is where domains register Asynq handlers.
func (s *Server) Mux() *asynq.ServeMux { return s.mux }

// HasHandler reports whether a handler is registered for the task type.
func (s *Server) HasHandler(taskType string) bool {
	_, pattern := s.mux.Handler(asynq.NewTask(taskType, nil))
	return pattern != ""
}

// AddConsumer adds a RabbitMQ consumer run alongside the Asynq server. A
// spec without an Exchange binds to Config.Exchange.
func (s *Server) AddConsumer(specs ...amqpx.ConsumerSpec) {
	for _, spec := range specs {
		if spec.Exchange == "" && len(spec.Bindings) > 0 {
			spec.Exchange = s.cfg.Exchange
		}
		s.consumers = append(s.consumers, spec)
	}
}

// UseAMQP adds middleware (metrics, tracing) around the handler of every
// consumer, like Mux().Use for tasks. It runs inside the consumer's logging
// and outside its classification, so it sees classified results (see
// amqpx.Observe).
func (s *Server) UseAMQP(mws ...amqpx.MiddlewareFunc) { s.amqpMW = append(s.amqpMW, mws...) }

// ConsumerQueues lists the queues of the consumers added so far, so a tool
// that ran a throwaway Server (fundigo bench) can delete what it declared.
func (s *Server) ConsumerQueues() []string {
	qs := make([]string, len(s.consumers))
	for i, c := range s.consumers {
		qs[i] = c.Queue
	}
	return qs
}

// AddRunner adds another long-running component (e.g. the outbox relay) that
// lives and stops with the worker pools. fn must return after ctx is done.
func (s *Server) AddRunner(fn func(ctx context.Context) error) { s.runners = append(s.runners, fn) }

// Run serves until ctx is cancelled, then stops intake, drains in-flight
// tasks and deliveries (bounded by ShutdownTimeout) and returns.
func (s *Server) Run(ctx context.Context) error {
	if len(s.consumers) > 0 && s.conn == nil {
		return errors.New("workers: consumers added without an AMQP connection")
	}
	consumers := make([]*amqpx.Consumer, 0, len(s.consumers))
	for _, spec := range s.consumers {
		spec.Middleware = append(slices.Clip(s.amqpMW), spec.Middleware...)
		c, err := amqpx.NewConsumer(s.conn, s.log, spec)
		if err != nil {
			return fmt.Errorf("new consumer for %s: %w", spec.Queue, err)
		}
		consumers = append(consumers, c)
	}

	servers, err := s.startServers()
	if err != nil {
		return err
	}
	s.log.Info().Int("consumers", len(consumers)).Int("concurrency", s.cfg.Concurrency).Msg("workers started")

	g, gctx := errgroup.WithContext(ctx)
	for _, c := range consumers {
		g.Go(func() error { return c.Run(gctx) })
	}
	// Runners (the outbox relay) start only once every consumer queue is
	// declared and bound: an event published before its queue exists would be
	// dropped by the exchange, so in a fresh deployment the relay must not
	// run ahead of the bindings it feeds.
	declared := make(chan struct{})
	g.Go(func() error {
		for _, spec := range s.consumers {
			if err := s.conn.Declare(gctx, spec.Topology()); err != nil {
				if gctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("declare %s: %w", spec.Queue, err)
			}
		}
		close(declared)
		return nil
	})
	for _, r := range s.runners {
		g.Go(func() error {
			select {
			case <-declared:
			case <-gctx.Done():
				return nil
			}
			return r(gctx)
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		// Stop pulling new tasks first, then wait for in-flight ones.
		shutdown(servers)
		return nil
	})
	err = g.Wait()
	s.log.Info().Msg("workers stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// startServers starts one Asynq server per queue, each with its
// goroutines (tasks.Queues.Concurrency). One weighted server would
// run a dequeue script per queue it tries (~1.9 per task with three queues,
// most of them finding critical and low empty) and would let a backlog on
// low occupy goroutines critical work needs; a server per queue asks
// exactly one queue per dequeue, and critical keeps its own goroutines.
func (s *Server) startServers() ([]*asynq.Server, error) {
	shares := s.cfg.Queues.Concurrency(s.cfg.Concurrency)
	servers := make([]*asynq.Server, 0, len(shares))
	for _, queue := range s.cfg.Queues.All() {
		srv := asynq.NewServer(s.redis, asynq.Config{
			Concurrency:              shares[queue],
			Queues:                   map[string]int{queue: 1},
			RetryDelayFunc:           tasks.RetryDelay,
			ShutdownTimeout:          s.cfg.ShutdownTimeout,
			DelayedTaskCheckInterval: s.cfg.DelayedTaskCheckInterval,
			TaskCheckInterval:        s.cfg.TaskCheckInterval,
			Logger:                   asynqLogger{s.log},
			// Errors are logged once, by logTask; this only feeds metrics hooks.
			ErrorHandler: asynq.ErrorHandlerFunc(func(context.Context, *asynq.Task, error) {}),
		})
		if err := srv.Start(s.mux); err != nil {
			shutdown(servers)
			return nil, fmt.Errorf("start asynq server for queue %s: %w", queue, err)
		}
		servers = append(servers, srv)
	}
	return servers, nil
}

// shutdown stops every server's intake at once, then waits for their
// in-flight tasks (each bounded by ShutdownTimeout).
func shutdown(servers []*asynq.Server) {
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
}
