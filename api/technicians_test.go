package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The rating is served from Redis after the first read and invalidated when
// a new review changes it. Enqueues fail here, so POST /v1/reviews
// recomputes inline (its fallback), which is what invalidates the entry.
func TestTechnicianRatingCacheInvalidatedOnChange(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Tasks = closedTasksClient(t) })

	r := s.do(t, http.MethodGet, "/v1/technicians/tech-9/rating", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code, string(r.Body))

	r = s.do(t, http.MethodPost, "/v1/reviews", review("j1", "tech-9", 5), serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	r = s.do(t, http.MethodGet, "/v1/technicians/tech-9/rating", nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	require.Equal(t, "miss", r.Header.Get("X-Cache"))
	first := r.JSON(t)
	require.Equal(t, float64(1), first["count"])
	require.Equal(t, 5.0, first["average"])
	require.Equal(t, map[string]any{"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0, "5": 1.0}, first["distribution"])
	for _, k := range []string{"technician_id", "bayesian_average", "last_review_at", "updated_at"} {
		require.Contains(t, first, k)
	}

	r = s.do(t, http.MethodGet, "/v1/technicians/tech-9/rating", nil, serviceAuth())
	require.Equal(t, "hit", r.Header.Get("X-Cache"))
	require.Equal(t, first, r.JSON(t))

	r = s.do(t, http.MethodPost, "/v1/reviews", review("j2", "tech-9", 2), serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	r = s.do(t, http.MethodGet, "/v1/technicians/tech-9/rating", nil, serviceAuth())
	require.Equal(t, "miss", r.Header.Get("X-Cache"), "invalidated by the change")
	second := r.JSON(t)
	require.Equal(t, float64(2), second["count"])
	require.Equal(t, 3.5, second["average"])
}

func TestTopTechnicians(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Tasks = closedTasksClient(t) })
	// tech-a: 5,5,5 (plumbing); tech-b: 5 (electrical); tech-c: 4,4 (plumbing)
	for i, rv := range []struct {
		tech, cat string
		rating    int
	}{{"tech-a", "plumbing", 5}, {"tech-a", "plumbing", 5}, {"tech-a", "plumbing", 5},
		{"tech-b", "electrical", 5}, {"tech-c", "plumbing", 4}, {"tech-c", "plumbing", 4}} {
		body := review(fmt.Sprintf("job-%d", i), rv.tech, rv.rating)
		body["category"] = rv.cat
		r := s.do(t, http.MethodPost, "/v1/reviews", body, serviceAuth())
		require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	}
	ids := func(r testResponse) []string {
		var out []string
		for _, x := range r.JSON(t)["technicians"].([]any) {
			out = append(out, x.(map[string]any)["technician_id"].(string))
		}
		return out
	}
	r := s.do(t, http.MethodGet, "/v1/technicians/top", nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	require.Equal(t, "miss", r.Header.Get("X-Cache"))
	require.Equal(t, []string{"tech-a", "tech-b", "tech-c"}, ids(r))
	require.Equal(t, float64(20), r.JSON(t)["limit"])

	r = s.do(t, http.MethodGet, "/v1/technicians/top?category=Plumbing&limit=1", nil, serviceAuth())
	require.Equal(t, []string{"tech-a"}, ids(r))
	r = s.do(t, http.MethodGet, "/v1/technicians/top?category=plumbing&limit=5", nil, serviceAuth())
	require.Equal(t, "hit", r.Header.Get("X-Cache"), "one cached list per category")
	require.Equal(t, []string{"tech-a", "tech-c"}, ids(r))

	// Cached for minutes: a new top technician shows up only after expiry.
	body := review("job-new", "tech-d", 5)
	body["category"] = "plumbing"
	for i := range 10 {
		body["job_id"] = fmt.Sprintf("job-new-%d", i)
		require.Equal(t, http.StatusCreated, s.do(t, http.MethodPost, "/v1/reviews", body, serviceAuth()).Code)
	}
	r = s.do(t, http.MethodGet, "/v1/technicians/top?category=plumbing", nil, serviceAuth())
	require.Equal(t, []string{"tech-a", "tech-c"}, ids(r))
	ttl, err := s.deps.Redis.TTL(t.Context(), s.deps.Config.Redis.KeyPrefix+"ratings:top:plumbing").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, s.deps.Config.Ratings.TopCacheTTL)

	for _, q := range []string{"limit=0", "limit=101", "limit=x", "category=" + strings.Repeat("x", 65)} {
		r = s.do(t, http.MethodGet, "/v1/technicians/top?"+q, nil, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, q)
	}
	r = s.do(t, http.MethodGet, "/v1/technicians/top?category=none", nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code)
	require.Empty(t, ids(r))
}
