package celerycompat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/celery"
	"fundigo/pkg/komburedis"
	"fundigo/pkg/logging"
)

// Config sizes and tunes a Consumer. Zero values get the defaults below.
type Config struct {
	// Queues are the Celery queues to consume (default ["celery"]).
	Queues []string
	// DeadLetterQueue receives unknown and unrunnable tasks (default "celery.unknown").
	DeadLetterQueue string
	// Concurrency is the number of tasks run at once (default 8); Prefetch
	// bounds unacked messages per queue (basic.qos, default 2×Concurrency).
	Concurrency int
	Prefetch    int
	// TaskTimeout is the hard limit of a task whose message sets none (default 5m).
	TaskTimeout time.Duration
	// MaxRetries bounds retries of a failing task (default 3; negative: none).
	MaxRetries int
	// RetryDelay is the first retry's countdown, doubled per retry and capped
	// at MaxRetryDelay, when the handler gives none (defaults 10s and 1h).
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// HoldETA is how far ahead an eta may be and still be waited for in
	// memory (default 2s); later ones are parked.
	HoldETA time.Duration
	// ParkQueue is the Asynq queue of parked ETA messages (required).
	ParkQueue string
	// RequeueDelay is the pause before a delivery that hit an infrastructure
	// error is handed back to the broker (default 1s).
	RequeueDelay time.Duration
	// PollTimeout is how long one BRPOP waits on the Redis broker (default
	// 1s, kombu's); RestoreEvery is how often unacked messages past the
	// visibility timeout are restored there (default 10s).
	PollTimeout  time.Duration
	RestoreEvery time.Duration
	// Events sends Celery's task and worker events (celery worker -E), so
	// Flower and `celery events` see Go workers, as Hostname (default
	// fundigo@<host>).
	Events   bool
	Hostname string
	// RemoteControl answers Celery's remote control as Hostname (celery
	// inspect ping|active|registered|stats|active_queues, celery control
	// revoke) on the pidbox of ControlExchange (Celery's control_exchange,
	// default "celery").
	RemoteControl   bool
	ControlExchange string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Queues) == 0 {
		c.Queues = []string{"celery"}
	}
	if c.DeadLetterQueue == "" {
		c.DeadLetterQueue = "celery.unknown"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Prefetch == 0 {
		c.Prefetch = 2 * c.Concurrency
	}
	if c.TaskTimeout == 0 {
		c.TaskTimeout = 5 * time.Minute
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 10 * time.Second
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = time.Hour
	}
	if c.HoldETA == 0 {
		c.HoldETA = 2 * time.Second
	}
	if c.RequeueDelay == 0 {
		c.RequeueDelay = time.Second
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = time.Second
	}
	if c.RestoreEvery == 0 {
		c.RestoreEvery = 10 * time.Second
	}
	if c.ControlExchange == "" {
		c.ControlExchange = "celery"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.ParkQueue == "" {
		errs = append(errs, errors.New("park queue is empty"))
	}
	if c.Concurrency < 1 || c.Prefetch < c.Concurrency {
		errs = append(errs, errors.New("concurrency must be at least 1 and prefetch at least concurrency"))
	}
	for _, q := range c.Queues {
		if q == "" || q == c.DeadLetterQueue {
			errs = append(errs, fmt.Errorf("queue %q: empty or the dead-letter queue", q))
		}
	}
	return errors.Join(errs...)
}

// Deps are what a Consumer talks to.
type Deps struct {
	Log zerolog.Logger
	// Conn is the connection to Django's Celery broker when it is RabbitMQ;
	// Redis is kombu's Redis transport when the broker is Redis. Set one.
	Conn  *amqpx.Conn
	Redis *komburedis.Transport
	// Publisher sends to the same broker: on RabbitMQ an *amqpx.Publisher
	// that must be mandatory (amqpx.PublisherConfig{Mandatory: true}), so a
	// retry, dead letter or parked message that reaches no queue fails
	// instead of vanishing; on Redis a *RedisPublisher on Redis.
	Publisher Publisher
	// Backend is Django's CELERY_RESULT_BACKEND.
	Backend *celery.Backend
	// Tasks parks ETA messages.
	Tasks    *asynq.Client
	Registry *Registry
}

// Consumer runs Celery tasks from RabbitMQ or from kombu's Redis transport.
// Safe to Run once.
type Consumer struct {
	deps   Deps
	cfg    Config
	log    zerolog.Logger
	host   string
	state  *workerState
	events *events          // nil: events off
	plain  *amqpx.Publisher // events and control replies on RabbitMQ (nil on Redis or when both are off)
}

// NewConsumer validates cfg and returns a Consumer.
func NewConsumer(deps Deps, cfg Config) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("celery consumer: %w", err)
	}
	if (deps.Conn == nil) == (deps.Redis == nil) {
		return nil, errors.New("celery consumer: set exactly one broker: an AMQP conn or a Redis transport")
	}
	if deps.Publisher == nil || deps.Backend == nil || deps.Tasks == nil || deps.Registry == nil {
		return nil, errors.New("celery consumer: publisher, backend, tasks and registry are required")
	}
	host, _ := os.Hostname()
	c := &Consumer{deps: deps, cfg: cfg, host: host, state: newWorkerState(cfg.Now()),
		log: deps.Log.With().Str(logging.FieldComponent, "celery").Logger()}
	if c.cfg.Hostname == "" {
		c.cfg.Hostname = "fundigo@" + host
	}
	if deps.Conn != nil && (cfg.Events || cfg.RemoteControl) {
		// Not the mandatory Publisher: an event nobody listens to, or a
		// reply whose client has gone, is dropped by the broker, as
		// Celery's are, not returned.
		pub, err := amqpx.NewPublisher(deps.Conn, amqpx.PublisherConfig{})
		if err != nil {
			return nil, fmt.Errorf("celery events publisher: %w", err)
		}
		c.plain = pub
	}
	if cfg.Events {
		var sink eventSink = redisEvents{t: deps.Redis}
		if deps.Conn != nil {
			sink = amqpEvents{pub: c.plain}
		}
		c.events = &events{c: c, sink: sink, hostname: c.cfg.Hostname}
	}
	return c, nil
}

// Run consumes until ctx ends, then stops intake, hands unstarted
// deliveries back to the broker, lets running tasks finish and ack, and
// returns nil. A lost channel or connection is not an error: Run resumes
// once amqpx has reconnected.
func (c *Consumer) Run(ctx context.Context) error {
	bo := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.2,
		Multiplier: 2, MaxInterval: 5 * time.Second}
	bo.Reset()
	session, broker := c.session, "amqp"
	if c.deps.Redis != nil {
		session, broker = c.redisSession, "redis"
	}
	c.log.Info().Str("broker", broker).Strs("queues", c.cfg.Queues).Strs("tasks", c.deps.Registry.Tasks()).
		Str("hostname", c.cfg.Hostname).Bool("remote_control", c.cfg.RemoteControl).Msg("celery consumer started")
	var background sync.WaitGroup
	defer func() {
		background.Wait() // worker-offline sent, pidbox left
		if c.plain != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = c.plain.Close(cctx) // events and replies are best effort
			cancel()
		}
	}()
	if c.events != nil {
		if c.deps.Conn != nil {
			if err := declareEvents(ctx, c.deps.Conn); err != nil {
				c.log.Warn().Err(err).Msg("celeryev exchange not declared; events may be dropped")
			}
		}
		background.Go(func() { c.events.heartbeat(ctx) })
	}
	if c.cfg.RemoteControl {
		background.Go(func() { c.remoteControl(ctx, c.mailbox()) })
	}
	for {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			c.log.Info().Msg("celery consumer stopped")
			return nil
		}
		if time.Since(started) > time.Minute {
			bo.Reset()
		}
		delay := bo.NextBackOff()
		ev := c.log.Warn()
		if isRefusal(err) {
			ev = c.log.Error() // the broker refuses (permissions, queue settings): a human must act
		}
		ev.Err(err).Dur("retry_in", delay).Msg("celery consumer interrupted; resuming")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
	}
}

// session declares the queues and consumes them on one channel until ctx
// ends or the channel dies; it returns after every handler has returned.
func (c *Consumer) session(ctx context.Context) error {
	for _, q := range c.cfg.Queues {
		if err := declareKombu(ctx, c.deps.Conn, c.log, q); err != nil {
			return err
		}
	}
	if err := declarePlain(ctx, c.deps.Conn, c.cfg.DeadLetterQueue); err != nil {
		return err
	}
	ch, err := c.deps.Conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close() //nolint:errcheck // may already be closed by the broker
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}

	merged := make(chan delivery)
	var forwarders sync.WaitGroup
	tags := make([]string, 0, len(c.cfg.Queues))
	for _, q := range c.cfg.Queues {
		tag := "fundigo-celery-" + uuid.NewString()
		ds, err := ch.Consume(q, tag, false, false, false, false, nil)
		if err != nil {
			return fmt.Errorf("consume %s: %w", q, err)
		}
		tags = append(tags, tag)
		forwarders.Go(func() {
			for d := range ds {
				merged <- delivery{Delivery: d, queue: q}
			}
		})
	}
	go func() {
		forwarders.Wait()
		close(merged)
	}()

	lost := make(chan struct{}) // closed when the channel died under the handlers
	var handlers sync.WaitGroup
	for range c.cfg.Concurrency {
		handlers.Go(func() {
			for d := range merged {
				c.handle(ctx, lost, d)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		handlers.Wait()
		close(done)
	}()

	select {
	case <-ctx.Done():
		for _, tag := range tags {
			if err := ch.Cancel(tag, false); err != nil {
				c.log.Debug().Err(err).Msg("cancel celery consumer")
			}
		}
		<-done
		return nil
	case amqpErr := <-closed:
		close(lost)
		<-done
		if amqpErr == nil {
			return errors.New("channel closed")
		}
		return amqpErr
	case <-done:
		return errors.New("consumer cancelled by the broker")
	}
}

// delivery is a message and the queue it was consumed from (retries and
// parked messages go back to that queue).
type delivery struct {
	amqp.Delivery
	queue string
}

// handle processes d and acks it, or hands it back to the broker after
// RequeueDelay when processing hit an infrastructure error. Once shutdown
// began, a delivery not yet started is handed back at once.
func (c *Consumer) handle(ctx context.Context, lost <-chan struct{}, d delivery) {
	log := c.log.With().Str(logging.FieldQueue, d.queue).Logger()
	if ctx.Err() != nil {
		if err := d.Nack(false, true); err != nil {
			log.Debug().Err(err).Msg("requeue at shutdown failed; the broker requeues it")
		}
		return
	}
	err := c.process(ctx, log, d)
	if err == nil {
		if ackErr := d.Ack(false); ackErr != nil {
			log.Warn().Err(ackErr).Msg("ack failed; the task will be redelivered")
		}
		return
	}
	log.Warn().Err(err).Dur("retry_in", c.cfg.RequeueDelay).Msg("celery task not settled; requeueing")
	select {
	case <-time.After(c.cfg.RequeueDelay):
	case <-ctx.Done():
	case <-lost:
		return // the broker requeues it by itself
	}
	if nackErr := d.Nack(false, true); nackErr != nil {
		log.Warn().Err(nackErr).Msg("requeue failed; the broker requeues it when the channel closes")
	}
}
