package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Celery configures the Celery drop-in (workers/celerycompat): Go workers
// consume the Django app's Celery task messages from RabbitMQ and write
// results where AsyncResult reads them. Off by default: a Go worker
// dead-letters every task name it has no handler for, so it must only
// consume queues whose tasks have all moved (docs/celery-migration.md).
type Celery struct {
	Enabled bool `env:"FUNDIGO_CELERY_ENABLED" envDefault:"false"`
	// BrokerURL is Django's CELERY_BROKER_URL when it is not FUNDIGO_AMQP_URL
	// (another vhost, say); empty shares FUNDIGO_AMQP_URL's connection. A
	// redis:// (or rediss://) URL, database number included, consumes
	// kombu's Redis transport instead of RabbitMQ.
	BrokerURL Secret `env:"FUNDIGO_CELERY_BROKER_URL"`
	// BrokerKeyPrefix is broker_transport_options' global_keyprefix on a
	// Redis broker; VisibilityTimeout its visibility_timeout (kombu's
	// default 1h): a message a worker took and did not ack comes back to its
	// queue after that long. Use Django's values; a task must not run longer.
	BrokerKeyPrefix   string        `env:"FUNDIGO_CELERY_BROKER_KEY_PREFIX"`
	VisibilityTimeout time.Duration `env:"FUNDIGO_CELERY_VISIBILITY_TIMEOUT" envDefault:"1h"`
	// ResultURL is Django's CELERY_RESULT_BACKEND (a redis:// URL, database
	// number included); empty uses FUNDIGO_REDIS_URL.
	ResultURL Secret `env:"FUNDIGO_CELERY_RESULT_URL"`
	// ResultExpires is result_expires: how long results live; 0 stores them
	// without expiry (result_expires=None).
	ResultExpires time.Duration `env:"FUNDIGO_CELERY_RESULT_EXPIRES" envDefault:"24h"`
	// ResultKeyPrefix is the result backend's global_keyprefix, if any.
	ResultKeyPrefix string `env:"FUNDIGO_CELERY_RESULT_KEY_PREFIX"`
	// Queues are the Celery queues to consume (default exchange, routing key
	// = queue name), declared as kombu declares them.
	Queues []string `env:"FUNDIGO_CELERY_QUEUES" envDefault:"celery" envSeparator:","`
	// DeadLetterQueue keeps tasks no handler is registered for, and messages
	// a Go worker cannot run, for `fundigo celery dlq list|replay`.
	DeadLetterQueue string `env:"FUNDIGO_CELERY_DEAD_LETTER_QUEUE" envDefault:"celery.unknown"`
	// Tasks maps Celery task names to Go handlers (name=handler, comma
	// separated). Handlers: notifications.send, payments.callback,
	// ratings.recompute_all.
	Tasks map[string]string `env:"FUNDIGO_CELERY_TASKS" envDefault:"notifications.tasks.send_notification_async=notifications.send,payments.tasks.process_payment_callback=payments.callback,ratings.tasks.update_technician_ratings=ratings.recompute_all" envSeparator:"," envKeyValSeparator:"="`
	// Concurrency is the number of tasks run at once per process; Prefetch
	// bounds the unacked messages held (basic.qos), at least Concurrency.
	Concurrency int `env:"FUNDIGO_CELERY_CONCURRENCY" envDefault:"8"`
	Prefetch    int `env:"FUNDIGO_CELERY_PREFETCH" envDefault:"16"`
	// TaskTimeout is the hard time limit of a task whose message sets none.
	TaskTimeout time.Duration `env:"FUNDIGO_CELERY_TASK_TIMEOUT" envDefault:"5m"`
	// MaxRetries and RetryDelay govern retries of tasks that failed for a
	// transient reason: republished with retries+1 and an eta of
	// RetryDelay·2^retries (Celery's max_retries defaults to 3).
	MaxRetries int           `env:"FUNDIGO_CELERY_MAX_RETRIES" envDefault:"3"`
	RetryDelay time.Duration `env:"FUNDIGO_CELERY_RETRY_DELAY" envDefault:"10s"`
	// HoldETA is how far ahead an eta may be and still be waited for in
	// memory; later ones are parked in Redis (Asynq) and republished when due.
	HoldETA time.Duration `env:"FUNDIGO_CELERY_HOLD_ETA" envDefault:"2s"`
	// Events sends Celery's task and worker events (what `celery worker -E`
	// sends) so Flower and `celery events` list the Go workers; Hostname is
	// the node name they appear under (default fundigo@<host>).
	Events   bool   `env:"FUNDIGO_CELERY_EVENTS" envDefault:"false"`
	Hostname string `env:"FUNDIGO_CELERY_HOSTNAME"`
	// RemoteControl answers Celery's remote control under Hostname: `celery
	// inspect ping|active|registered|stats|active_queues` list the Go
	// worker and `celery control revoke` steers it (Celery's
	// worker_enable_remote_control); ControlExchange is Django's
	// control_exchange (the pidbox namespace).
	RemoteControl   bool   `env:"FUNDIGO_CELERY_REMOTE_CONTROL" envDefault:"true"`
	ControlExchange string `env:"FUNDIGO_CELERY_CONTROL_EXCHANGE" envDefault:"celery"`
}

var celeryName = regexp.MustCompile(`^[A-Za-z0-9_.:\-]+$`)

func (c Celery) validate() []error {
	var errs []error
	if c.BrokerURL != "" {
		errs = append(errs, checkURL("FUNDIGO_CELERY_BROKER_URL", string(c.BrokerURL), "amqp", "amqps", "redis", "rediss")...)
	}
	if c.VisibilityTimeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_VISIBILITY_TIMEOUT must be positive"))
	}
	if c.ResultURL != "" {
		errs = append(errs, checkURL("FUNDIGO_CELERY_RESULT_URL", string(c.ResultURL), "redis", "rediss")...)
	}
	if c.ResultExpires < 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_RESULT_EXPIRES must not be negative"))
	}
	if len(c.Queues) == 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_QUEUES must name at least one queue"))
	}
	for _, q := range c.Queues {
		if !celeryName.MatchString(q) {
			errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_QUEUES: invalid queue name %q", q))
		}
		if q == c.DeadLetterQueue {
			errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_DEAD_LETTER_QUEUE %q is also consumed", q))
		}
	}
	if !celeryName.MatchString(c.ControlExchange) {
		errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_CONTROL_EXCHANGE: invalid name %q", c.ControlExchange))
	}
	if c.Hostname != "" && !celeryName.MatchString(strings.ReplaceAll(c.Hostname, "@", "")) {
		errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_HOSTNAME: invalid node name %q (want name@host)", c.Hostname))
	}
	if !celeryName.MatchString(c.DeadLetterQueue) {
		errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_DEAD_LETTER_QUEUE: invalid queue name %q", c.DeadLetterQueue))
	}
	for name, handler := range c.Tasks {
		if !celeryName.MatchString(name) || strings.TrimSpace(handler) == "" {
			errs = append(errs, fmt.Errorf("FUNDIGO_CELERY_TASKS: want task.name=handler, got %q=%q", name, handler))
		}
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_CONCURRENCY must be at least 1"))
	}
	if c.Prefetch < c.Concurrency {
		errs = append(errs, errors.New("FUNDIGO_CELERY_PREFETCH must be at least FUNDIGO_CELERY_CONCURRENCY"))
	}
	if c.TaskTimeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_TASK_TIMEOUT must be positive"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_MAX_RETRIES must not be negative"))
	}
	if c.RetryDelay <= 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_RETRY_DELAY must be positive"))
	}
	if c.HoldETA < 0 {
		errs = append(errs, errors.New("FUNDIGO_CELERY_HOLD_ETA must not be negative"))
	}
	return errs
}

// RedisBroker reports whether the Celery broker is Redis (kombu's Redis
// transport) rather than RabbitMQ.
func (c Celery) RedisBroker() bool {
	u := strings.ToLower(string(c.BrokerURL))
	return strings.HasPrefix(u, "redis://") || strings.HasPrefix(u, "rediss://")
}
