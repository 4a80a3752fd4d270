package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/tracing"
)

// One POST /v1/payments is one trace: the HTTP request, the STK push task,
// the call to Daraja (the simulator sends the push's traceparent back with
// its callback, as documented), the callback's webhook request, the
// applier's apply, the relay's publish of payment.paid and its consumers,
// all under one trace id; and the log lines of the traced work carry it.
func TestOnePaymentIsOneTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "100ms",
		// The simulator calls back from loopback: a trusted source, so its
		// success is applied straight away (no STK Query round).
		"FUNDIGO_MPESA_ALLOWED_CIDRS": "127.0.0.1/32",
		"FUNDIGO_LOG_FORMAT":          "json",
	})
	stop, logs := startAllWith(t, tracing.WithExporter(context.Background(), exp), getenv, base)
	e := startPaymentsE2EOn(t, getenv, base, logs, stop)

	id := e.createPayment(t, "0708374149", 100)
	e.waitStatus(t, id, "paid")

	var root trace.TraceID
	for _, s := range exp.GetSpans() {
		if s.Name == "POST /v1/payments" {
			root = s.SpanContext.TraceID()
		}
	}
	require.True(t, root.IsValid(), "no span for POST /v1/payments; spans: %v", spanNames(exp, trace.TraceID{}))
	want := []string{
		"POST /v1/payments",
		"task mpesa:stk_push",
		"POST /v1/webhooks/daraja/stk/:token", // the simulator's callback: the route template, not the token
		"payment.apply_callback",
		"publish payment.paid",
		"process payment.paid",
	}
	var names map[string]bool
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) { // polling with a deadline
		names = spanNames(exp, root)
		missing := []string{}
		for _, w := range want {
			if !names[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s lacks %v; it has %v\nall spans: %v", root, missing, names, spanNames(exp, trace.TraceID{}))
		}
	}
	t.Logf("spans of trace %s: %v", root, names)
	require.True(t, hasPrefix(names, "POST 127.0.0.1:"), "the Daraja call is a client span of the trace: %v", names)
	require.True(t, hasPrefix(names, "INSERT") || hasPrefix(names, "SELECT") || hasPrefix(names, "query"),
		"pgx statements are spans of the trace: %v", names)

	// Every log line of the traced work names the trace.
	var taskLine, requestLine bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["trace_id"] != root.String() {
			continue
		}
		switch l["message"] {
		case "task done":
			taskLine = taskLine || l["task_type"] == "mpesa:stk_push"
		case "http request":
			requestLine = requestLine || l["route"] == "/v1/payments"
		}
	}
	require.True(t, requestLine, "the access log line of POST /v1/payments carries trace_id")
	require.True(t, taskLine, "the STK push task's log line carries trace_id")

	// The queue UI on the admin listener answers only with the service key.
	adminURL := "http://" + getenv("FUNDIGO_ADMIN_ADDR") + "/asynq/api/queues"
	code, body := e.adminGet(t, adminURL, "")
	require.Equal(t, http.StatusUnauthorized, code)
	// asynqmon lists every queue in the Redis database, then reads each;
	// tests beside this one share that database and delete their queues
	// when they end, so a listing that raced such a delete fails with
	// NOT_FOUND for a queue that is not ours. Only that failure is retried.
	for range 5 {
		code, body = e.adminGet(t, adminURL, e2eKey)
		if code != http.StatusInternalServerError || !strings.Contains(body, "does not exist") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "queues")
}

func (e *paymentsE2E) adminGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func spanNames(exp *tracetest.InMemoryExporter, id trace.TraceID) map[string]bool {
	out := map[string]bool{}
	for _, s := range exp.GetSpans() {
		if !id.IsValid() || s.SpanContext.TraceID() == id {
			out[s.Name] = true
		}
	}
	return out
}

func hasPrefix(names map[string]bool, p string) bool {
	for n := range names {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
