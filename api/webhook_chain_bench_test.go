package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store/storetest"
)

// webhookStub is the STK webhook without its commit: it reads and parses
// the body, logs the line the real handler logs and answers the same JSON,
// so the benchmarks below weigh what surrounds the commit.
func webhookStub(c echo.Context) error {
	body := new(bytes.Buffer)
	if _, err := body.ReadFrom(c.Request().Body); err != nil {
		return err
	}
	cb, err := mpesa.ParseCallback(body.Bytes())
	if err != nil {
		return err
	}
	zerologCtx(c).Info().Str("checkout_request_id", cb.CheckoutRequestID).Msg("stk callback stored")
	return c.JSONBlob(http.StatusOK, stkAccepted)
}

// serveWebhook posts body to e b.N times and checks the answer.
func serveWebhook(b *testing.B, e *echo.Echo, path string, body []byte, gzip bool) {
	b.Helper()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		if gzip {
			req.Header.Set(echo.HeaderAcceptEncoding, "gzip")
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkWebhookChain is what one STK callback costs the API around its
// inbox commit (issue 20 item 3), run with
//
//	go test -run '^$' -bench WebhookChain -benchtime 20000x -count 3 ./api/
//
// "server" is the chain NewServer really builds (whatever server.go holds
// today, metrics on, info logs to io.Discard) around webhookStub on a
// webhook path; "bare" is the stub on a bare Echo; "chain/…" adds the
// middleware of server.go one at a time, so each step's increment is that
// middleware's price; "parse" is mpesa.ParseCallback alone, the JSON
// decoding the applier repeats.
func BenchmarkWebhookChain(b *testing.B) {
	body, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	if err != nil {
		b.Fatal(err)
	}
	log := zerolog.New(io.Discard).Level(zerolog.InfoLevel)
	const path = "/v1/webhooks/bench/token"

	b.Run("server", func(b *testing.B) {
		cfg, err := config.Load(func(string) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
		e, err := NewServer(Deps{Log: log, Config: cfg, Pool: storetest.NewPool(b), Registry: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		e.POST("/v1/webhooks/bench/:token", webhookStub)
		for _, gz := range []bool{false, true} {
			b.Run(map[bool]string{false: "identity", true: "accept-gzip"}[gz], func(b *testing.B) { serveWebhook(b, e, path, body, gz) })
		}
	})

	steps := []struct {
		name string
		mw   func() echo.MiddlewareFunc
	}{
		{"request_id", middleware.RequestID},
		{"access_log", func() echo.MiddlewareFunc { return accessLog(log) }},
		{"recover", func() echo.MiddlewareFunc {
			return middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true})
		}},
		{"prometheus", func() echo.MiddlewareFunc {
			return echoprometheus.NewMiddlewareWithConfig(echoprometheus.MiddlewareConfig{
				Namespace: "fundigo", Registerer: prometheus.NewRegistry()})
		}},
		{"gzip", func() echo.MiddlewareFunc { return middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}) }},
	}
	for n := 0; n <= len(steps); n++ {
		name := "bare"
		if n > 0 {
			name = "chain/+" + steps[n-1].name
		}
		b.Run(name, func(b *testing.B) {
			e := echo.New()
			e.HTTPErrorHandler = errorHandler(log, nil)
			for _, s := range steps[:n] {
				e.Use(s.mw())
			}
			e.POST("/v1/webhooks/bench/:token", webhookStub)
			serveWebhook(b, e, path, body, true)
		})
	}

	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := mpesa.ParseCallback(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU adds cpu-ns/op, the process's CPU time (user + system) per
// iteration: on a shared machine wall-clock ns/op includes waiting for a
// core, CPU time much less so. Call as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
