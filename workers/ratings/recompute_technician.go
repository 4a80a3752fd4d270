package ratings

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// handleRecomputeTechnician recomputes one technician (one statement that
// also writes rating.updated to the outbox if the numbers changed), then
// drops the cached rating. Idempotent: a rerun finds nothing changed and
// writes no event. The cache is invalidated even when nothing changed, so a
// retry after a failed invalidation still clears a stale entry.
func handleRecomputeTechnician(d Deps) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p tasks.RecomputeTechnicianPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TechnicianID == "" {
			return tasks.Permanent(fmt.Errorf("decode %s payload: %v", t.Type(), err))
		}
		r, changed, err := RecomputeTechnician(ctx, d, p.TechnicianID)
		if err != nil {
			return err
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, p.TechnicianID).Bool("changed", changed).
			Int("count", r.Count).Msg("technician rating recomputed")
		return nil
	}
}

// RecomputeTechnician recomputes one technician with the stored global mean
// and the configured prior weight, and invalidates its cached rating.
func RecomputeTechnician(ctx context.Context, d Deps, technicianID string) (r events.RatingUpdated, changed bool, err error) {
	ratings := d.ratings()
	m, err := ratings.GlobalMean(ctx)
	if err != nil {
		return r, false, err
	}
	r, changed, err = ratings.RecomputeTechnician(ctx, technicianID, store.RatingParams{GlobalMean: m, PriorWeight: d.Config.PriorWeight})
	if err != nil {
		return r, false, err
	}
	if err := d.cache().Invalidate(ctx, technicianID); err != nil {
		return r, changed, fmt.Errorf("technician %s: %w", technicianID, err)
	}
	return r, changed, nil
}
