package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

func TestAdminRecomputeRatings(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)

	r := s.do(t, http.MethodPost, "/v1/admin/ratings/recompute", nil, userAuth(t, "u1"))
	require.Equal(t, http.StatusUnauthorized, r.Code, "service key only")

	r = s.do(t, http.MethodPost, "/v1/admin/ratings/recompute", nil, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	id := r.JSON(t)["task_id"].(string)
	require.NotEmpty(t, id)

	info, err := taskstest.Inspector(t).GetTaskInfo(s.deps.Queues.Low, id)
	require.NoError(t, err)
	require.Equal(t, tasks.TypeRatingsRecomputeAll, info.Type)

	r = s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	v := r.JSON(t)
	require.Equal(t, tasks.TypeRatingsRecomputeAll, v["type"])
	require.Equal(t, "pending", v["state"])
}
