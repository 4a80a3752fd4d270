package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/health"
)

func TestOptionalDependencyDownIsDegradedNotUnready(t *testing.T) {
	t.Parallel()
	var pgDown, mqDown atomic.Bool
	ping := func(b *atomic.Bool) func(context.Context) error {
		return func(context.Context) error {
			if b.Load() {
				return errors.New("down")
			}
			return nil
		}
	}
	r := health.NewReadiness(
		health.Check{Name: "postgres", Ping: ping(&pgDown), Required: true},
		health.Check{Name: "rabbitmq", Ping: ping(&mqDown)},
	)
	get := func() (int, health.Report) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var rep health.Report
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
		return rec.Code, rep
	}
	code, rep := get()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, health.Report{Status: "ok", Checks: map[string]string{"postgres": "ok", "rabbitmq": "ok"}}, rep)

	mqDown.Store(true)
	code, rep = get()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, health.Report{Status: "degraded", Checks: map[string]string{"postgres": "ok", "rabbitmq": "degraded"}}, rep)

	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	got := map[string]float64{}
	for _, m := range mfs[0].GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		got[strings.Join(parts, ",")] = m.GetGauge().GetValue()
	}
	require.Equal(t, map[string]float64{"dependency=postgres,required=true": 1, "dependency=rabbitmq,required=false": 0}, got)

	pgDown.Store(true)
	code, rep = get()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", rep.Status)
	require.Equal(t, "unavailable", rep.Checks["postgres"])
}
