package ratings

import (
	"context"

	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/rating"
	"fundigo/pkg/tasks"
)

// handleRecomputeTechnician runs rating.RecomputeTechnician for the
// debounced ratings:recompute_technician task (idempotent; a retry after a
// failed cache invalidation still clears a stale entry).
func handleRecomputeTechnician(d Deps) tasks.Handler[tasks.RecomputeTechnicianPayload] {
	return func(ctx context.Context, p tasks.RecomputeTechnicianPayload) error {
		r, changed, err := rating.RecomputeTechnician(ctx, d.Rating, p.TechnicianID)
		if err != nil {
			return err
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, p.TechnicianID).Bool("changed", changed).
			Int("count", r.Count).Msg("technician rating recomputed")
		return nil
	}
}
