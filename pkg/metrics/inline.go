package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/expo"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// Inline are the counters building blocks update as work happens. Build one
// per process with New and hand its parts to the wiring.
type Inline struct {
	tasks        *prometheus.CounterVec
	taskDuration *prometheus.HistogramVec
	deliveries   *prometheus.CounterVec
	pushCalls    *prometheus.CounterVec
	limiterWait  prometheus.Histogram
	celery       *prometheus.CounterVec
}

// New registers the in-line metrics on reg.
func New(reg prometheus.Registerer) *Inline {
	m := &Inline{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_tasks_total",
			Help: "Asynq tasks handled, by type and outcome (success, retry, failed = archived without retry).",
		}, []string{"type", "outcome"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fundigo_task_duration_seconds",
			Help:    "Asynq task handler duration by type.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_amqp_deliveries_total",
			Help: "RabbitMQ deliveries handled by queue and outcome (acked, requeued, dead_lettered).",
		}, []string{"queue", "outcome"}),
		pushCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_push_provider_requests_total",
			Help: "HTTP requests to the push providers by provider (expo, fcm) and status code (429 = throttled; 0 = no answer).",
		}, []string{"provider", "code"}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fundigo_push_limiter_wait_seconds",
			Help:    "Time a push batch waited for the project-wide Expo rate limiter.",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		celery: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_celery_tasks_total",
			Help: "Celery tasks handled by handler name and state (success, failure).",
		}, []string{"name", "state"}),
	}
	reg.MustRegister(m.tasks, m.taskDuration, m.deliveries, m.pushCalls, m.limiterWait, m.celery)
	return m
}

// TaskMiddleware counts every task by type and outcome, classified as the
// worker's log middleware does: nil or a stale transition is a success,
// tasks.Permanent is failed (archived), anything else a retry. Types without
// a handler are counted as "unknown" so a stray task cannot add series.
func (m *Inline) TaskMiddleware(hasHandler func(string) bool) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			typ := t.Type()
			if !hasHandler(typ) {
				typ = "unknown"
			}
			start := time.Now()
			outcome := "retry" // a panic passes through here as a retry
			defer func() {
				m.tasks.WithLabelValues(typ, outcome).Inc()
				m.taskDuration.WithLabelValues(typ).Observe(time.Since(start).Seconds())
			}()
			err = next.ProcessTask(ctx, t)
			switch {
			case err == nil, errors.Is(err, store.ErrStaleTransition):
				outcome = "success"
			case tasks.IsPermanent(err):
				outcome = "failed"
			}
			return err
		})
	}
}

// WrapDelivery counts a consumer's deliveries by the ack the consumer will
// give: nil acked, amqpx.Permanent dead-lettered, anything else (a panic
// too) requeued. (Deliveries the broker dead-letters past the delivery
// limit show in fundigo_amqp_queue_messages of the .dlq queue.)
func (m *Inline) WrapDelivery(queue string, h amqpx.HandlerFunc) amqpx.HandlerFunc {
	return func(ctx context.Context, d amqp.Delivery) (err error) {
		outcome := "requeued"
		defer func() { m.deliveries.WithLabelValues(queue, outcome).Inc() }()
		err = h(ctx, d)
		switch {
		case err == nil:
			outcome = "acked"
		case amqpx.IsPermanent(err):
			outcome = "dead_lettered"
		}
		return err
	}
}

// PushTransport counts every provider answer by status code.
func (m *Inline) PushTransport(provider string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		code := "0"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.pushCalls.WithLabelValues(provider, code).Inc()
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// PushLimiter times every admission through l.
func (m *Inline) PushLimiter(l expo.Limiter) expo.Limiter { return timedLimiter{l, m.limiterWait} }

type timedLimiter struct {
	expo.Limiter
	wait prometheus.Histogram
}

func (t timedLimiter) Wait(ctx context.Context, n int) error {
	start := time.Now()
	err := t.Limiter.Wait(ctx, n)
	t.wait.Observe(time.Since(start).Seconds())
	return err
}

// CeleryDone counts one handled Celery task (name is the registered
// handler's name, a bounded set).
func (m *Inline) CeleryDone(name string, err error) {
	state := "success"
	if err != nil {
		state = "failure"
	}
	m.celery.WithLabelValues(name, state).Inc()
}
