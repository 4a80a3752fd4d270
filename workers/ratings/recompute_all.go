package ratings

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"fundigo/pkg/rating"
	"fundigo/pkg/tasks"
)

// handleRecomputeAll runs RecomputeAll as an Asynq task: progress goes to
// the task result (JSON, readable by GET /v1/tasks/{id} while it runs and for
// a day after), to the commands row of the task id when the API created one,
// and to the log at most every ProgressInterval. An interrupted attempt
// (timeout, shutdown, crash) is retried and resumes from the last batch.
func handleRecomputeAll(d Deps) tasks.Handler[tasks.RecomputeAllPayload] {
	return func(ctx context.Context, payload tasks.RecomputeAllPayload) error {
		taskID, _ := asynq.GetTaskID(ctx)
		log := zerolog.Ctx(ctx).With().Str("reason", payload.Reason).Logger()
		var lastLog time.Time
		report := func(p rating.Progress) {
			b, _ := json.Marshal(p)
			if w := tasks.ResultFrom(ctx); w != nil {
				if _, err := w.Write(b); err != nil {
					log.Warn().Err(err).Msg("write recompute progress to task result")
				}
			}
			if err := rating.RecordProgress(ctx, d.Rating, taskID, p, b); err != nil {
				log.Warn().Err(err).Msg("write recompute progress to commands")
			}
			now := d.Rating.Now()
			if p.Status == rating.StatusRunning && now.Sub(lastLog) < d.ProgressInterval && p.Batches > 0 {
				log.Debug().Str("run_id", p.RunID).Int("batch", p.Batches).Float64("percent", p.Percent).Msg("rating recompute batch")
				return
			}
			lastLog = now
			logProgress(log, p)
		}
		_, err := rating.RecomputeAll(log.WithContext(ctx), d.Rating, taskID, report)
		return err
	}
}

func logProgress(log zerolog.Logger, p rating.Progress) {
	log.Info().Str("run_id", p.RunID).Str("status", p.Status).Bool("resumed", p.Resumed).
		Str("percent", fmt.Sprintf("%.1f", p.Percent)).Int64("processed_reviews", p.ProcessedReviews).
		Int64("total_reviews", p.TotalReviews).Int64("processed_technicians", p.ProcessedTechnicians).
		Int64("changed_technicians", p.ChangedTechnicians).Int("batches", p.Batches).
		Str("reviews_per_sec", fmt.Sprintf("%.0f", p.RatePerSec)).Int64("elapsed_ms", p.ElapsedMS).
		Msg("rating recompute progress")
}
