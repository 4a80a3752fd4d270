package api

import (
	"net/http"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// Probe requests are logged at debug, so an info-level API does not write a
// line per kubelet probe; other requests stay at info.
func TestProbesAreLoggedAtDebug(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	s := newTestServer(t, func(d *Deps) { d.Log = zerolog.New(logs).Level(zerolog.InfoLevel) })
	require.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/healthz", nil, nil).Code)
	s.do(t, http.MethodGet, "/readyz", nil, nil)
	require.NotContains(t, logs.String(), "http request")
	s.do(t, http.MethodGet, "/v1/tasks/x", nil, nil)
	require.Contains(t, logs.String(), `"route":"/v1/tasks/:id"`)
}
