package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// TaskInspector finds and removes a payment's push task; *asynq.Inspector
// implements it. Both calls are safe for concurrent use.
type TaskInspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// expireBatch bounds one expiry statement; a run repeats it while a full
// batch came back.
const expireBatch = 1000

// expireOverdue fails as expired every payment past its deadline — pending
// past Reconcile.PendingDeadline (its push never recorded), awaiting_callback
// past FinalDeadline — set-based: per batch, one UPDATE … RETURNING and one
// outbox insert of their payment.failed events, in one transaction. A late
// success callback for one of them still wins (success after failure →
// needs_review, by the applier).
func expireOverdue(ctx context.Context, d Deps, log zerolog.Logger) error {
	rc := d.Config.Reconcile.WithDefaults()
	now := d.now()
	var pushedBefore time.Time // zero (nothing) unless a final deadline is configured
	if d.Config.FinalDeadline > 0 {
		pushedBefore = now.Add(-d.Config.FinalDeadline)
	}
	for ctx.Err() == nil {
		var expired []Payment
		err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
			var err error
			expired, err = NewStore(tx).ExpireOverdue(ctx, now.Add(-rc.PendingDeadline), pushedBefore, now, expireBatch)
			if err != nil {
				return err
			}
			return emitAll(ctx, tx, expired)
		})
		if err != nil {
			return err
		}
		for _, p := range expired {
			log.Info().Str(logging.FieldPaymentID, p.ID).Str("status", string(p.Status)).
				Str("failure_reason", p.FailureReason).Str("why", p.ResultDesc).Msg("payment failed")
		}
		if len(expired) < expireBatch {
			return nil
		}
	}
	return ctx.Err()
}

// redrivePending enqueues again the push task of every pending payment older
// than RedriveAfter (and younger than the pending deadline: older ones were
// expired). The task id is the payment id, so a live task is never
// duplicated; an archived one (its retries ran out, e.g. during a database
// outage) is what "the task still exists" used to hide: it is deleted and
// replaced, and the re-run push settles a push that had started as
// ambiguous, never re-sending it.
func redrivePending(ctx context.Context, d Deps, log zerolog.Logger) error {
	if d.Tasks == nil {
		return nil
	}
	ps, err := NewStore(d.Pool).StalePending(ctx, d.now().Add(-d.Config.RedriveAfter), reconcileBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		if err := redrive(ctx, d, log.With().Str(logging.FieldPaymentID, p.ID).Logger(), p.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func redrive(ctx context.Context, d Deps, log zerolog.Logger, id string) error {
	queue := d.Queues.Critical
	enqueue := func() error {
		t, err := tasks.NewSTKPush(ctx, id, queue)
		if err != nil {
			return err
		}
		_, err = d.Tasks.EnqueueContext(ctx, t)
		return err
	}
	err := enqueue()
	switch {
	case err == nil:
		log.Warn().Msg("pending payment re-driven: its push task was lost")
		return nil
	case !errors.Is(err, asynq.ErrTaskIDConflict):
		return fmt.Errorf("re-drive payment %s: %w", id, err)
	case d.Inspector == nil:
		return nil // its task exists; whether archived cannot be told
	}
	info, err := d.Inspector.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) {
		return enqueue() // gone since the conflict: enqueue again (a new conflict is a live task)
	}
	if err != nil {
		return fmt.Errorf("inspect push task of payment %s: %w", id, err)
	}
	if info.State != asynq.TaskStateArchived {
		return nil // waiting, scheduled, retrying or running: it will settle the payment
	}
	if err := d.Inspector.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return fmt.Errorf("delete archived push task of payment %s: %w", id, err)
	}
	if err := enqueue(); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("re-drive payment %s after its archived task: %w", id, err)
	}
	log.Warn().Str("last_error", info.LastErr).Msg("pending payment's push task was archived; replaced and re-driven")
	return nil
}
