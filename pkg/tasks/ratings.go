package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Ratings task types.
const (
	// TypeRatingsRecomputeTechnician recomputes one technician's aggregates
	// (set-based SQL) and publishes rating.updated when they changed.
	// Enqueued per review, debounced: see EnqueueRecomputeTechnician.
	TypeRatingsRecomputeTechnician = "ratings:recompute_technician"
	// TypeRatingsRecomputeAll recomputes every technician in keyset batches,
	// refreshing the global mean first; resumable from the last finished batch.
	// Scheduled nightly (03:00 Africa/Nairobi) and triggered by operators.
	TypeRatingsRecomputeAll = "ratings:recompute_all"
)

// RecomputeTechnicianPayload names the technician to recompute.
type RecomputeTechnicianPayload struct {
	TechnicianID string `json:"technician_id"`
}

// RecomputeAllPayload says who asked for a full recompute (for logs).
type RecomputeAllPayload struct {
	Reason string `json:"reason,omitempty"`
}

// RecomputeAllTimeout bounds one attempt of a full recompute; a retry
// resumes from the last finished batch.
const RecomputeAllTimeout = 3 * time.Hour

// NewRecomputeAll builds a full recompute task. Its result (progress JSON)
// is retained for a day so GET /v1/tasks/{id} can report it after the end.
func NewRecomputeAll(ctx context.Context, reason string) (*asynq.Task, error) {
	b, err := json.Marshal(RecomputeAllPayload{Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", TypeRatingsRecomputeAll, err)
	}
	return New(ctx, TypeRatingsRecomputeAll, b,
		asynq.MaxRetry(20), asynq.Timeout(RecomputeAllTimeout), asynq.Retention(24*time.Hour)), nil
}

// RecomputeTechnicianTaskID is the task id of the debounced recompute of
// technicianID for the window containing now; see EnqueueRecomputeTechnician.
func RecomputeTechnicianTaskID(technicianID string, now time.Time, window time.Duration) (id string, processAt time.Time) {
	bucket := now.UnixNano() / int64(window)
	end := time.Unix(0, (bucket+1)*int64(window))
	return TypeRatingsRecomputeTechnician + ":" + strconv.FormatInt(bucket, 10) + ":" + technicianID,
		end.Add(min(window, time.Second))
}

// EnqueueRecomputeTechnician schedules the recompute of one technician,
// debounced: every call in the same window of length `window` maps to the
// same task id (technician + window number) and the task runs at the end of
// the window plus a grace of min(window, 1s). So a burst of reviews gives one
// recompute, and a review committed before its call is always seen by the
// recompute of its window, which cannot have started yet (the grace absorbs
// clock skew between API and worker hosts). A call whose task already exists
// returns scheduled=false and no error. window <= 0 disables the debounce.
//
// Call it after the review is committed.
func EnqueueRecomputeTechnician(ctx context.Context, c *asynq.Client, queue, technicianID string, now time.Time, window time.Duration) (scheduled bool, err error) {
	b, err := json.Marshal(RecomputeTechnicianPayload{TechnicianID: technicianID})
	if err != nil {
		return false, fmt.Errorf("marshal %s payload: %w", TypeRatingsRecomputeTechnician, err)
	}
	opts := []asynq.Option{asynq.Queue(queue), asynq.MaxRetry(10), asynq.Timeout(time.Minute)}
	if window > 0 {
		id, at := RecomputeTechnicianTaskID(technicianID, now, window)
		opts = append(opts, asynq.TaskID(id), asynq.ProcessAt(at))
	}
	_, err = c.EnqueueContext(ctx, New(ctx, TypeRatingsRecomputeTechnician, b), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue rating recompute for technician %s: %w", technicianID, err)
	}
	return true, nil
}

// Validate requires the technician id.
func (p *RecomputeTechnicianPayload) Validate() error {
	if p.TechnicianID == "" {
		return errors.New("technician_id is required")
	}
	return nil
}
