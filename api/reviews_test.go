package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

func review(job, tech string, rating any) map[string]any {
	return map[string]any{"job_id": job, "technician_id": tech, "customer_id": "cust-1", "rating": rating}
}

func TestCreateReview(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)

	body := review("job-1", "tech-1", 4)
	body["comment"], body["category"] = "Kazi nzuri", "Plumbing"
	r := s.do(t, http.MethodPost, "/v1/reviews", body, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	got := r.JSON(t)
	require.NotEmpty(t, got["id"])
	require.Equal(t, "job-1", got["job_id"])
	require.Equal(t, float64(4), got["rating"])
	require.Equal(t, "plumbing", got["category"])

	// One debounced recompute was scheduled for the technician.
	scheduled, err := taskstest.Inspector(t).ListScheduledTasks(s.deps.Queues.Default)
	require.NoError(t, err)
	require.Len(t, scheduled, 1)
	require.Equal(t, tasks.TypeRatingsRecomputeTechnician, scheduled[0].Type)

	// A second review of the same job: 409, even with other content.
	r = s.do(t, http.MethodPost, "/v1/reviews", review("job-1", "tech-1", 1), serviceAuth())
	require.Equal(t, http.StatusConflict, r.Code, string(r.Body))

	// Integer ids from Django are accepted.
	r = s.do(t, http.MethodPost, "/v1/reviews", `{"job_id": 2, "technician_id": 3, "customer_id": 4, "rating": 5}`, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	require.Equal(t, "3", r.JSON(t)["technician_id"])
}

func TestCreateReviewRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	long := review("job-x", "tech-1", 3)
	long["comment"] = strings.Repeat("é", 2001)
	for name, tc := range map[string]struct {
		body   any
		code   int
		fields []string
	}{
		"rating 0":         {review("j", "t", 0), 422, []string{"rating"}},
		"rating 6":         {review("j", "t", 6), 422, []string{"rating"}},
		"rating string":    {review("j", "t", "5"), 422, []string{"rating"}},
		"rating fraction":  {review("j", "t", 4.5), 422, []string{"rating"}},
		"missing all":      {map[string]any{}, 422, []string{"job_id", "technician_id", "customer_id", "rating"}},
		"comment too long": {long, 422, []string{"comment"}},
		"unknown field":    {`{"job_id":"j","technician_id":"t","customer_id":"c","rating":3,"stars":3}`, 422, []string{"stars"}},
		"id not scalar":    {`{"job_id":{},"technician_id":"t","customer_id":"c","rating":3}`, 422, []string{"job_id"}},
		"not json":         {`{`, 400, nil},
	} {
		r := s.do(t, http.MethodPost, "/v1/reviews", tc.body, serviceAuth())
		require.Equal(t, tc.code, r.Code, "%s: %s", name, r.Body)
		if tc.fields != nil {
			var fields []string
			for _, e := range r.JSON(t)["errors"].([]any) {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			require.ElementsMatch(t, tc.fields, fields, name)
		}
	}
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reviews`).Scan(&n))
	require.Zero(t, n, "bad input changes nothing")
	info, err := taskstest.Inspector(t).GetQueueInfo(s.deps.Queues.Default)
	if err == nil {
		require.Zero(t, info.Size, "and schedules nothing")
	}
}

func TestCreateReviewAuth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodPost, "/v1/reviews", review("j1", "t1", 5), nil)
	require.Equal(t, http.StatusUnauthorized, r.Code)

	// A user reviews only as itself, and only with a grant for the job.
	r = s.do(t, http.MethodPost, "/v1/reviews", review("j1", "t1", 5), withGrant(t, userAuth(t, "someone-else"), "j1", "cust-1", "t1"))
	require.Equal(t, http.StatusForbidden, r.Code, string(r.Body))
	r = s.do(t, http.MethodPost, "/v1/reviews", review("j1", "t1", 5), withGrant(t, userAuth(t, "cust-1"), "j1", "cust-1", "t1"))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
}

// closedTasksClient makes every enqueue fail, to exercise the inline
// recompute fallback of POST /v1/reviews.
func closedTasksClient(t *testing.T) *asynq.Client {
	c := asynq.NewClient(taskstest.RedisOpt())
	require.NoError(t, c.Close())
	return c
}
