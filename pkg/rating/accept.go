package rating

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// ErrReviewConflict: the job already has a different review. The stored
// review is kept (one review per job) and returned with this error.
var ErrReviewConflict = errors.New("the job already has a different review")

// OnEnqueueError says what AcceptReview does when the review is stored but
// its debounced recompute cannot be enqueued (Redis down).
type OnEnqueueError int

const (
	// ReturnEnqueueError returns the error: the caller can retry the whole
	// accept (an event consumer requeues; the redelivery is a replay that
	// enqueues again).
	ReturnEnqueueError OnEnqueueError = iota
	// RecomputeInline recomputes the technician now so the rating is still
	// fresh; if that fails too, the review stands and the nightly recompute
	// catches up. For callers that cannot retry (a REST client already has
	// its review stored).
	RecomputeInline
)

// Accepted is the outcome of AcceptReview.
type Accepted struct {
	Review Review
	// Replay: the job already had this very review (same content); nothing
	// was stored and the recompute was scheduled again, in case the first
	// attempt died between the commit and the enqueue (an extra recompute
	// changes nothing and publishes nothing).
	Replay bool
}

// AcceptReview is the one way a review enters the system: normalize,
// validate (an *InvalidError lists every bad field), authorize the author
// (Authorize: a service, or a user with a review grant for exactly this job;
// ErrNotAllowed otherwise), insert (one review per
// job: ErrReviewConflict with the stored review when the job has a
// different one) and schedule the debounced recompute of its technician
// (tasks.EnqueueRecomputeTechnician), handling an enqueue failure as
// onEnqueueError says. Idempotent: the same review again is a Replay.
func AcceptReview(ctx context.Context, d Deps, by Author, in events.ReviewCreated, onEnqueueError OnEnqueueError) (Accepted, error) {
	in = Normalize(in)
	if probs := Validate(in); len(probs) > 0 {
		return Accepted{}, &InvalidError{Subject: "review", Fields: probs}
	}
	if err := Authorize(by, in, d.GrantKey, d.Now()); err != nil {
		return Accepted{}, err
	}
	want := reviewOf(in)
	r, err := d.Store().InsertReview(ctx, want)
	acc := Accepted{Review: r}
	switch {
	case errors.Is(err, store.ErrConflict) && r.SameContent(want):
		acc.Replay = true
	case errors.Is(err, store.ErrConflict):
		return acc, fmt.Errorf("review for job %s conflicts with its stored review %s: %w", want.JobID, r.ID, ErrReviewConflict)
	case err != nil:
		return Accepted{}, err
	}
	log := zerolog.Ctx(ctx).With().Str(logging.FieldTechnicianID, r.TechnicianID).Str("review_id", r.ID).Logger()
	if err := d.enqueueRecompute(ctx, r.TechnicianID); err != nil {
		if onEnqueueError == ReturnEnqueueError {
			return acc, fmt.Errorf("schedule rating recompute of technician %s: %w", r.TechnicianID, err)
		}
		log.Warn().Err(err).Msg("rating recompute enqueue failed; recomputing inline")
		if _, _, err := RecomputeTechnician(ctx, d, r.TechnicianID); err != nil {
			log.Warn().Err(err).Msg("inline rating recompute failed; the nightly recompute will catch up")
		}
	}
	return acc, nil
}

// enqueueBudget bounds the debounced enqueue: with Redis black-holed, a
// review is still answered quickly (its technician recomputed inline, or
// the delivery requeued) instead of after the client's socket timeouts.
const enqueueBudget = time.Second

// enqueueRecompute schedules the debounced recompute of technicianID within
// enqueueBudget. An enqueue abandoned at the budget may still land later;
// that is harmless (the task is idempotent and its id is per window).
func (d Deps) enqueueRecompute(ctx context.Context, technicianID string) error {
	ctx, cancel := context.WithTimeout(ctx, enqueueBudget)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := tasks.EnqueueRecomputeTechnician(ctx, d.Tasks, d.Queues.Default, technicianID, d.Now(), d.Config.Debounce)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("enqueue rating recompute for technician %s: no answer within %s: %w", technicianID, enqueueBudget, ctx.Err())
	}
}
