package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

// Middleware records the run of every task the scheduler (or an operator's
// manual run) enqueued — recognised by its type and a task ID that starts
// with the schedule's name and ":" — in the schedule's record: started,
// then succeeded or failed with its duration and error. Other tasks pass
// through untouched. The handler's error is returned unchanged; a failure to
// write the record is logged and never fails the task. The worker root wires
// it with mux.Use.
func Middleware(pool *pgxpool.Pool, schedules []Schedule, log zerolog.Logger) asynq.MiddlewareFunc {
	records := store.NewSchedules(pool)
	byType := map[string][]string{}
	for _, s := range schedules {
		byType[s.TaskType] = append(byType[s.TaskType], s.Name)
	}
	log = log.With().Str(logging.FieldComponent, "scheduler").Logger()
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			name := scheduleOf(byType[t.Type()], id)
			if name == "" {
				return next.ProcessTask(ctx, t)
			}
			started := time.Now()
			bg := func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			}
			wctx, cancel := bg()
			err := records.RecordRunStart(wctx, name, id, started)
			cancel()
			if err != nil {
				log.Warn().Err(err).Str(logging.FieldSchedule, name).Str(logging.FieldTaskID, id).
					Msg("record scheduled run start")
			}
			end := func(runErr error) {
				wctx, cancel := bg()
				defer cancel()
				if err := records.RecordRunEnd(wctx, name, id, time.Since(started), runErr); err != nil {
					log.Warn().Err(err).Str(logging.FieldSchedule, name).Str(logging.FieldTaskID, id).
						Msg("record scheduled run end")
				}
			}
			defer func() {
				if p := recover(); p != nil {
					end(fmt.Errorf("panic: %v", p))
					panic(p) // asynq's processor recovers it and retries the task
				}
			}()
			runErr := next.ProcessTask(ctx, t)
			if errors.Is(runErr, store.ErrStaleTransition) {
				end(nil) // already done: the worker counts it as success
			} else {
				end(runErr)
			}
			return runErr
		})
	}
}

// scheduleOf returns the schedule among names whose task IDs taskID has
// (the longest match, should one name prefix another).
func scheduleOf(names []string, taskID string) string {
	best := ""
	for _, n := range names {
		if strings.HasPrefix(taskID, n+":") && len(n) > len(best) {
			best = n
		}
	}
	return best
}
