package ratings

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/rating"
	"fundigo/pkg/tasks"
)

// handleRecomputeTechnician runs rating.RecomputeTechnician for the
// debounced ratings:recompute_technician task (idempotent; a retry after a
// failed cache invalidation still clears a stale entry).
func handleRecomputeTechnician(d Deps) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p tasks.RecomputeTechnicianPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return tasks.Permanent(fmt.Errorf("decode %s payload: %w", t.Type(), err))
		}
		if p.TechnicianID == "" {
			return tasks.Permanent(fmt.Errorf("%s payload without technician_id", t.Type()))
		}
		r, changed, err := rating.RecomputeTechnician(ctx, d.Rating, p.TechnicianID)
		if err != nil {
			return err
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, p.TechnicianID).Bool("changed", changed).
			Int("count", r.Count).Msg("technician rating recomputed")
		return nil
	}
}
