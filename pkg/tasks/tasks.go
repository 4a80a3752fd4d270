// Package tasks is the registry of Asynq task types: type names, payload
// structs and constructors, one file per domain, as in asynq's README. It also
// fixes the queue layout (critical/default/low) and the retry policy. Results
// are classified by pkg/outcome, like the AMQP consumers' (Classify):
//
//   - return nil, or an already-done error (duplicate, stale transition): done;
//   - return outcome.Permanent(err), or a deterministic error (SQLSTATE class
//     22/23, JSON decode): will never succeed, no retry (archived);
//   - return any other error: retried with backoff, up to the task's MaxRetry.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"fundigo/pkg/outcome"
	"fundigo/pkg/tracing"
)

// Queues names the three priority queues. Names are configurable so that
// deployments (and tests) can share one Redis without seeing each other's work.
type Queues struct {
	Critical string
	Default  string
	Low      string
}

// NewQueues returns the queue names under prefix ("" gives critical, default, low).
func NewQueues(prefix string) Queues {
	return Queues{Critical: prefix + "critical", Default: prefix + "default", Low: prefix + "low"}
}

// Priorities is the weighted map for asynq.Config.Queues: critical work is
// picked six times as often as low.
func (q Queues) Priorities() map[string]int {
	return map[string]int{q.Critical: 6, q.Default: 3, q.Low: 1}
}

// Concurrency is the task goroutines of each queue's own Asynq server in a
// worker process (workers.Server) given FUNDIGO_WORKER_CONCURRENCY: critical
// and default each get all of it, so a burst on one never waits for the
// other's goroutines, and low, the bulk queue, gets total × its weight over
// critical's (1/6, rounded up; 20 → 4). Every dequeue asks exactly one
// queue, and a backlog on low cannot hold a goroutine that critical work
// needs. (A split of total by the weights, 12/6/2, halved the default
// queue's no-op rate on a loaded machine: each task holds its goroutine for
// the Redis round trip that marks it done.)
func (q Queues) Concurrency(total int) map[string]int {
	total = max(total, 1)
	w := q.Priorities()
	low := (total*w[q.Low] + w[q.Critical] - 1) / w[q.Critical]
	return map[string]int{q.Critical: total, q.Default: total, q.Low: max(low, 1)}
}

// All lists the queue names.
func (q Queues) All() []string { return []string{q.Critical, q.Default, q.Low} }

// Permanent is outcome.Permanent, the one permanent-failure marker of both
// transports. The error also wraps asynq.SkipRetry, so even a mux without
// the Classify middleware archives the task.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return outcome.Permanent(fmt.Errorf("%w (%w)", err, asynq.SkipRetry))
}

// IsPermanent reports whether err was marked permanent (outcome.Permanent or
// asynq.SkipRetry).
func IsPermanent(err error) bool { return outcome.IsPermanent(err) || errors.Is(err, asynq.SkipRetry) }

// Classify is the Asynq middleware that applies outcome.Classify, the
// classifier the AMQP consumers use too: already done (nil, a duplicate, a
// stale transition) returns nil; a permanent failure (marked, or a
// deterministic database or decode error) is wrapped with asynq.SkipRetry
// so Asynq archives it; anything else is returned for a retry.
func Classify() asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			err := next.ProcessTask(ctx, t)
			switch outcome.Classify(err) {
			case outcome.AlreadyDone:
				return nil
			case outcome.PermanentFailure:
				if !errors.Is(err, asynq.SkipRetry) {
					err = fmt.Errorf("%w (%w)", outcome.Permanent(err), asynq.SkipRetry)
				}
				return err
			}
			if errors.Is(err, asynq.SkipRetry) { // returned bare by a handler
				return outcome.Permanent(err)
			}
			return err
		})
	}
}

// RetryAfter is an error that asks to be retried no sooner than After:
// a handler that would otherwise hold its goroutine waiting (a rate limiter's
// turn) returns it instead, and RetryDelay honours it.
type RetryAfter struct {
	After time.Duration
	Err   error
}

func (e *RetryAfter) Error() string {
	return fmt.Sprintf("%v (retry in %v)", e.Err, e.After.Round(time.Millisecond))
}

func (e *RetryAfter) Unwrap() error { return e.Err }

// RetryDelay is the retry policy for every task: exponential from 1 s,
// doubling, capped at 5 minutes, with full jitter in the upper half so a
// burst of failures does not retry in lockstep. A *RetryAfter error is
// retried no sooner than its own delay: a crowd turned away by one rate
// limiter still spreads out over the backoff instead of returning together.
//
// A *RetrySoon error caps the backoff at its Within: for polling a state
// someone else settles (Daraja's answer to a push), where the backoff's
// minute-long waits would only delay the outcome, not relieve anybody.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	d := backoff(n)
	var rs *RetrySoon
	if errors.As(err, &rs) && rs.Within > 0 && d > rs.Within {
		half := rs.Within / 2
		d = half + rand.N(half+1)
	}
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.After > d {
		d = ra.After + rand.N(ra.After/10+1)
	}
	return d
}

// RetrySoon is an error whose retry waits at most Within (jittered in its
// upper half) however many attempts came before; see RetryDelay.
type RetrySoon struct {
	Within time.Duration
	Err    error
}

func (e *RetrySoon) Error() string {
	return fmt.Sprintf("%v (retry within %v)", e.Err, e.Within.Round(time.Millisecond))
}

func (e *RetrySoon) Unwrap() error { return e.Err }

func backoff(n int) time.Duration {
	if n < 0 {
		n = 0
	}
	if n > 9 {
		n = 9
	}
	d := time.Second << n
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	half := d / 2
	return half + rand.N(half+1)
}

// New is asynq.NewTask carrying ctx's W3C trace context (and the request id
// in its baggage) in the task's headers, so the handler continues the trace
// of whatever enqueued it (workers' trace middleware). Every constructor in
// this package builds its task with it.
func New(ctx context.Context, typename string, payload []byte, opts ...asynq.Option) *asynq.Task {
	return asynq.NewTaskWithHeaders(typename, payload, tracing.Headers(ctx), opts...)
}
