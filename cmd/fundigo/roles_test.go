package main

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/nettest"
)

// startRole runs `fundigo <args>` in the background until the test ends and
// waits for its admin listener's /healthz.
func startRole(t *testing.T, getenv func(string) string, args ...string) (stop func() error, logs *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, logs, logs) }()
	admin := "http://" + getenv("FUNDIGO_ADMIN_ADDR")
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%v exited: %v\n%s", args, err, logs.String())
		default:
		}
		resp, err := http.Get(admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "%v admin listener up", args)
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = context.DeadlineExceeded
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop, logs
}

// scrape GETs an admin /metrics asking for gzip, as Prometheus does, and
// parses the answer with expfmt (a double-gzipped body fails here).
func scrape(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true} // see the raw encoding
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		body = zr
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(body)
	require.NoError(t, err, "admin /metrics parses as the Prometheus text format")
	return mfs
}

// gauge returns the value of the family's series whose labels include want.
func seriesValue(mf *dto.MetricFamily, want map[string]string) (float64, bool) {
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// The API needs only PostgreSQL: with RabbitMQ cut off, /readyz (public and
// admin) stays 200 and reports it as degraded, in the body and as a metric.
// The public listener serves no /metrics; the admin listener does, with pprof.
func TestAPIReadyzStaysUpWithoutRabbitMQ(t *testing.T) {
	t.Parallel()
	amqpProxy := nettest.NewProxy(t, "127.0.0.1:5672")
	amqpURL := strings.Replace(amqpxtest.URL(), "127.0.0.1:5672", amqpProxy.Addr(), 1)
	require.NotEqual(t, amqpxtest.URL(), amqpURL, "test expects the default local RabbitMQ URL")
	getenv, base := testEnv(t, map[string]string{"FUNDIGO_AMQP_URL": amqpURL})
	stop, _ := startRole(t, getenv, "api")
	adminAddr := getenv("FUNDIGO_ADMIN_ADDR")

	require.Eventually(t, func() bool {
		code, checks := readyz(t, base)
		return code == http.StatusOK && checks["rabbitmq"] == "ok" && checks["postgres"] == "ok"
	}, 30*time.Second, 100*time.Millisecond)

	amqpProxy.Cut(true)
	for _, b := range []string{base, "http://" + adminAddr} {
		require.Eventually(t, func() bool {
			code, checks := readyz(t, b)
			return code == http.StatusOK && checks["rabbitmq"] == "degraded" && checks["postgres"] == "ok"
		}, 30*time.Second, 100*time.Millisecond, "%s/readyz: 200 with rabbitmq degraded", b)
	}
	mfs := scrape(t, adminAddr)
	v, ok := seriesValue(mfs["fundigo_dependency_up"], map[string]string{"dependency": "rabbitmq", "required": "false"})
	require.True(t, ok)
	require.Zero(t, v)
	v, ok = seriesValue(mfs["fundigo_dependency_up"], map[string]string{"dependency": "postgres", "required": "true"})
	require.True(t, ok)
	require.Equal(t, 1.0, v)

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no /metrics on the public port")
	resp, err = http.Get("http://" + adminAddr + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	amqpProxy.Cut(false)
	require.NoError(t, stop())
}
