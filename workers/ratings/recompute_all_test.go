package ratings

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/rating"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// Through Asynq: the task's result carries the progress JSON, readable by
// the inspector (what GET /v1/tasks/{id} uses) after the task completed.
func TestRecomputeAllTaskReportsProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t, "job", 100, 20)
	mux, _ := countingMux(b.deps)
	taskstest.Serve(t, b.deps.Rating.Queues, mux)

	task, err := tasks.NewRecomputeAll(context.Background(), "test")
	require.NoError(t, err)
	info, err := b.deps.Rating.Tasks.Enqueue(task, asynq.Queue(b.deps.Rating.Queues.Low), asynq.TaskID("recompute-1"))
	require.NoError(t, err)
	insp := taskstest.Inspector(t)
	var got *asynq.TaskInfo
	require.Eventually(t, func() bool {
		got, err = insp.GetTaskInfo(info.Queue, info.ID)
		return err == nil && got.State == asynq.TaskStateCompleted
	}, 15*time.Second, 50*time.Millisecond)
	var p rating.Progress
	require.NoError(t, json.Unmarshal(got.Result, &p))
	require.Equal(t, rating.StatusFinished, p.Status)
	require.Equal(t, int64(20), p.ProcessedTechnicians)
	require.Equal(t, int64(100), p.TotalReviews)
	require.Equal(t, 100.0, p.Percent)
}
