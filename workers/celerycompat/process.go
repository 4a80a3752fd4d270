package celerycompat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"fundigo/pkg/celery"
	"fundigo/pkg/logging"
)

// errShutdown hands a held ETA message back to the broker at shutdown.
var errShutdown = errors.New("shutting down")

// durableTimeout bounds each bookkeeping write (result, dead letter,
// republish, park) done under a context detached from shutdown, so the
// outcome of a task that ran is recorded before its ack.
const durableTimeout = 15 * time.Second

// process settles one delivery. nil means its outcome is durable and it may
// be acked; an error means it must be redelivered.
func (c *Consumer) process(ctx context.Context, log zerolog.Logger, d delivery) error {
	m, err := celery.Decode(d.Delivery)
	var decErr *celery.DecodeError
	if errors.As(err, &decErr) {
		log = log.With().Str(logging.FieldTaskID, decErr.ID).Str(logging.FieldTaskType, decErr.Task).Logger()
		return c.reject(ctx, log, d, &celery.Message{ID: decErr.ID, Task: decErr.Task}, decErr.Exception, decErr.Reason)
	}
	if err != nil {
		return err
	}
	if m.Retries < 0 {
		// A forged or broken header must not buy extra attempts: retries
		// counts up from 0, so a negative count is taken as a first run.
		log.Warn().Str(logging.FieldTaskID, m.ID).Int("retries", m.Retries).Msg("celery message with negative retries; clamped to 0")
		m.Retries = 0
	}
	log = log.With().Str(logging.FieldTaskID, m.ID).Str(logging.FieldTaskType, m.Task).
		Int(logging.FieldAttempt, m.Retries+1).Logger()

	if !m.IgnoreResult {
		done, err := c.alreadyDone(ctx, m, d.Redelivered)
		if err != nil {
			return err
		}
		if done {
			log.Info().Msg("celery task already has its result; not run again")
			return nil
		}
	}
	if c.state.isRevoked(m.ID, c.cfg.Now()) {
		return c.revoked(ctx, log, m)
	}
	h, ok := c.deps.Registry.Lookup(m.Task)
	if !ok {
		return c.reject(ctx, log, d, m, celery.NotRegistered(m.Task), "unknown task "+m.Task)
	}
	if canvas := m.Embed.Canvas(); len(canvas) > 0 {
		exc := celery.NotImplementedError("Celery canvas (" + strings.Join(canvas, ", ") + ") is not supported by FundiGO workers; call the task without link/chain/chord")
		return c.reject(ctx, log, d, m, exc, "canvas "+strings.Join(canvas, ", "))
	}
	c.events.received(m)
	now := c.cfg.Now()
	if !m.Expires.IsZero() && now.After(m.Expires) {
		log.Info().Time("expires", m.Expires).Msg("celery task expired; revoked")
		c.events.revoked(m, true)
		return c.store(ctx, m, celery.StateRevoked, celery.TaskRevokedError("expired"))
	}
	if !m.ETA.IsZero() && m.ETA.After(now) {
		wait := m.ETA.Sub(now)
		if wait > c.cfg.HoldETA && !wasParked(m) {
			if err := c.park(ctx, m, d.queue); err != nil {
				return err
			}
			log.Debug().Time("eta", m.ETA).Msg("celery task parked until its eta")
			return nil
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errShutdown
		}
		if c.state.isRevoked(m.ID, c.cfg.Now()) {
			return c.revoked(ctx, log, m)
		}
	}
	return c.run(ctx, log, d, m, h)
}

// revoked settles a message whose id was revoked by remote control (celery
// control revoke) before it ran: not run, REVOKED stored, as a Celery
// worker does.
func (c *Consumer) revoked(ctx context.Context, log zerolog.Logger, m *celery.Message) error {
	log.Info().Msg("celery task revoked; not run")
	c.events.revoked(m, false)
	return c.store(ctx, m, celery.StateRevoked, celery.TaskRevokedError("revoked"))
}

// alreadyDone reports whether m must not run again: a SUCCESS is final,
// and a redelivered message whose FAILURE or REVOKED is stored was settled
// by a worker that died before its ack. (A replayed dead letter is a new
// message, not a redelivery, so it runs.)
func (c *Consumer) alreadyDone(ctx context.Context, m *celery.Message, redelivered bool) (bool, error) {
	meta, err := c.deps.Backend.Get(ctx, m.ID)
	if err != nil {
		return false, err
	}
	return meta.Status == celery.StateSuccess || (redelivered && meta.Status.Ready()), nil
}

// run executes the handler under the task's hard time limit and records the
// outcome.
func (c *Consumer) run(ctx context.Context, log zerolog.Logger, d delivery, m *celery.Message, h HandlerFunc) error {
	limit := m.TimeLimit.Hard
	if limit <= 0 {
		limit = c.cfg.TaskTimeout
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	tctx, terminate := context.WithCancelCause(tctx)
	c.events.started(m)
	started := time.Now()
	r := c.state.begin(&d, m, c.cfg.Now(), terminate)
	value, err := call(log.WithContext(tctx), h, m)
	c.state.end(r)
	ctxErr, terminated := tctx.Err(), errors.Is(context.Cause(tctx), errTerminated)
	terminate(nil)
	cancel()
	runtime := time.Since(started)
	dur := runtime.Milliseconds()
	if err != nil && terminated {
		// Celery stores REVOKED ("terminated") for a task killed by
		// revoke --terminate, and does not retry it. (A handler that
		// finished its work in spite of the cancellation succeeded.)
		log.Info().Err(err).Int64(logging.FieldDurationMS, dur).Msg("celery task terminated by remote control")
		c.events.terminated(m)
		return c.store(ctx, m, celery.StateRevoked, celery.TaskRevokedError("terminated"))
	}
	if err == nil {
		c.events.finished(m, "task-succeeded", value, nil, runtime)
		log.Info().Int64(logging.FieldDurationMS, dur).Msg("celery task succeeded")
		if m.IgnoreResult {
			return nil
		}
		meta, err := celery.SuccessMeta(m, value, c.cfg.Now())
		if err != nil {
			// A result Go cannot encode is a programmer error: fail the task.
			return c.store(ctx, m, celery.StateFailure, celery.RuntimeError(err.Error()))
		}
		return c.write(ctx, meta)
	}
	o := classify(err, ctxErr, limit)
	if o.retry && c.cfg.MaxRetries > 0 && m.Retries < c.cfg.MaxRetries {
		delay := o.countdown
		if delay <= 0 {
			delay = c.backoff(m.Retries)
		}
		log.Warn().Err(err).Int64(logging.FieldDurationMS, dur).Dur("retry_in", delay).Msg("celery task failed; retrying")
		c.events.finished(m, "task-retried", nil, o.exc, runtime)
		return c.retry(ctx, log, d, m, delay, o.exc)
	}
	log.Warn().Err(err).Int64(logging.FieldDurationMS, dur).Str("exc_type", o.exc.Type).Msg("celery task failed")
	c.events.finished(m, "task-failed", nil, o.exc, runtime)
	return c.store(ctx, m, celery.StateFailure, o.exc)
}

// call runs h, turning a panic into an error.
func call(ctx context.Context, h HandlerFunc, m *celery.Message) (value any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p}
			zerolog.Ctx(ctx).Error().Interface("panic", p).Msg("celery task handler panicked")
		}
	}()
	return h(ctx, m)
}

// backoff is RetryDelay·2^retries, capped.
func (c *Consumer) backoff(retries int) time.Duration {
	d := c.cfg.RetryDelay
	for range retries {
		d *= 2
		if d >= c.cfg.MaxRetryDelay {
			return c.cfg.MaxRetryDelay
		}
	}
	return min(d, c.cfg.MaxRetryDelay)
}

// retry republishes m with the same id, retries+1 and an eta delay from now
// (confirmed), then stores RETRY, as Celery's Task.retry does. The original
// is acked after this returns nil. A redelivered original republishes again
// with the same id and retries; parking dedupes the two copies.
func (c *Consumer) retry(ctx context.Context, log zerolog.Logger, d delivery, m *celery.Message, delay time.Duration, exc *celery.Exception) error {
	next := *m
	next.Retries = m.Retries + 1
	next.ETA = c.cfg.Now().Add(delay)
	pub, err := next.Publishing()
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), durableTimeout)
	defer cancel()
	if err := c.deps.Publisher.Publish(pctx, "", d.queue, pub); err != nil {
		return fmt.Errorf("republish celery task %s for retry %d: %w", m.ID, next.Retries, err)
	}
	if !m.IgnoreResult {
		if err := c.store(ctx, m, celery.StateRetry, exc); err != nil {
			// The retry is queued; the RETRY state is only informational.
			log.Warn().Err(err).Msg("celery RETRY state not stored")
		}
	}
	return nil
}

// store records an exception outcome (FAILURE, RETRY, REVOKED) unless the
// message asked for no result.
func (c *Consumer) store(ctx context.Context, m *celery.Message, state celery.State, exc *celery.Exception) error {
	if m.IgnoreResult {
		return nil
	}
	meta, err := celery.ExceptionMeta(m, state, exc, c.cfg.Now())
	if err != nil {
		return err
	}
	return c.write(ctx, meta)
}

func (c *Consumer) write(ctx context.Context, meta celery.Meta) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), durableTimeout)
	defer cancel()
	_, err := c.deps.Backend.Store(wctx, meta)
	return err
}
