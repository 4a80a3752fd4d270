package ratings

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/tasks/taskstest"
)

func TestReviewCreatedConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	handle := b.reviewConsumer(t)
	reviews := b.deps.Rating.Store()
	insp := taskstest.Inspector(t)

	// Integer ids (Django primary keys) are accepted; the category is normalized.
	ok := `{"job_id": 42, "technician_id": 7, "customer_id": "c-1", "rating": 5, "comment": "safi", "category": " Plumbing "}`
	require.NoError(t, handle(ok))
	r, err := reviews.ReviewByJob(ctx, "42")
	require.NoError(t, err)
	require.Equal(t, "7", r.TechnicianID)
	require.Equal(t, "plumbing", r.Category)
	scheduled, err := insp.ListScheduledTasks(b.deps.Rating.Queues.Default)
	require.NoError(t, err)
	require.Len(t, scheduled, 1)

	// A redelivery stores nothing twice (acked, still one review) but
	// schedules the recompute again, in case the first delivery died between
	// the commit and the enqueue (simulated by deleting its task).
	require.NoError(t, insp.DeleteTask(b.deps.Rating.Queues.Default, scheduled[0].ID))
	require.NoError(t, handle(ok))
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM reviews`).Scan(&n))
	require.Equal(t, 1, n)
	scheduled, err = insp.ListScheduledTasks(b.deps.Rating.Queues.Default)
	require.NoError(t, err)
	require.Len(t, scheduled, 1, "a replay schedules the recompute again")

	for name, body := range map[string]string{
		"bad rating":       `{"job_id": "j2", "technician_id": "t", "customer_id": "c", "rating": 6}`,
		"rating as string": `{"job_id": "j3", "technician_id": "t", "customer_id": "c", "rating": "5"}`,
		"missing ids":      `{"rating": 3}`,
		"unknown field":    `{"job_id": "j4", "technician_id": "t", "customer_id": "c", "rating": 3, "stars": 3}`,
		"fractional id":    `{"job_id": 4.5, "technician_id": "t", "customer_id": "c", "rating": 3}`,
		"not json":         `{`,
		"self review":      `{"job_id": "j5", "technician_id": 9, "customer_id": "9", "rating": 5}`,
		"conflicting":      `{"job_id": 42, "technician_id": 7, "customer_id": "c-1", "rating": 1}`,
	} {
		err := handle(body)
		require.Error(t, err, name)
		require.True(t, amqpx.IsPermanent(err), "%s: %v", name, err)
	}
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM reviews`).Scan(&n))
	require.Equal(t, 1, n, "invalid reviews change nothing")
	r, err = reviews.ReviewByJob(ctx, "42")
	require.NoError(t, err)
	require.Equal(t, 5, r.Rating, "the stored review is kept")
}
