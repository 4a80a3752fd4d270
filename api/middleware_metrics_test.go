package api

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// requestCounts reads fundigo_http_requests_total as "method route code" → n.
func requestCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "fundigo_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var names, vals []string
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
				vals = append(vals, l.GetValue())
			}
			require.Equal(t, []string{"code", "method", "route"}, names, "no host or url label")
			out[vals[1]+" "+vals[2]+" "+vals[0]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestHTTPMetricsUseProblemStatusAndBoundedRoutes(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newTestServer(t, func(d *Deps) { d.Registry = reg })

	// A validation problem is a 422, an auth problem a 401.
	r := s.do(t, http.MethodPost, "/v1/payments", map[string]any{"amount": -1}, serviceAuth("Idempotency-Key", "k-metrics-1"))
	require.Equal(t, http.StatusUnprocessableEntity, r.Code, string(r.Body))
	require.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodGet, "/v1/tasks/x", nil, nil).Code)
	// Unknown URLs, whatever their path or Host, share one label.
	for _, p := range []string{"/nope", "/v1/random-" + strings.Repeat("x", 20), "/v1/no-such/route"} {
		req := map[string]string{"Host": "attacker-" + p[1:] + ".example"}
		require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, p, nil, req).Code)
	}
	// The public API no longer serves /metrics.
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/metrics", nil, nil).Code)

	got := requestCounts(t, reg)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, map[string]float64{
		"POST /v1/payments 422": 1,
		"GET /v1/tasks/:id 401": 1,
		"GET unmatched 404":     4,
	}, got, "series: %v", keys)
}
