package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const webhookToken = "api-test-callback-token-0123456789"

func webhookServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, func(d *Deps) { d.Config.Payments.CallbackToken = webhookToken })
}

func TestSTKWebhookAnswers503WhenTheCommitFails(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	body, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	require.NoError(t, err)
	// The database fails for a reason that is not this delivery's fault (a
	// row it refuses deterministically is a 400 instead, see
	// TestSTKWebhookBadDeliveryNeverFailsBatchMates).
	_, err = s.deps.Pool.Exec(context.Background(), `
		CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$;
		CREATE TRIGGER refuse_all BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse_all()`)
	require.NoError(t, err)
	r := s.do(t, http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken, body, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Code)
	require.NotContains(t, string(r.Body), "Accepted")
	require.NotContains(t, string(r.Body), webhookToken, "the problem's instance must not echo the path token")
}

func TestSTKWebhookWrongTokenIs404AndNotEchoed(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	body, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	require.NoError(t, err)
	const guess = "guessed-token-5f1c9a"
	r := s.do(t, http.MethodPost, "/v1/webhooks/mpesa/stk/"+guess, body, nil)
	require.Equal(t, http.StatusNotFound, r.Code)
	require.NotContains(t, string(r.Body), guess)
	require.Contains(t, string(r.Body), "/v1/webhooks/mpesa/stk/:token")
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox`).Scan(&n))
	require.Zero(t, n, "nothing stored for a wrong token")
}

func TestSTKWebhookStoresBeforeAnswering(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	body, err := os.ReadFile("../pkg/mpesa/testdata/failure_1032.json")
	require.NoError(t, err)
	r := s.do(t, http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken, body, nil)
	require.Equal(t, http.StatusOK, r.Code)
	require.JSONEq(t, `{"ResultCode":0,"ResultDesc":"Accepted"}`, string(r.Body))
	var stored []byte
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT body FROM inbox`).Scan(&stored))
	require.Equal(t, body, stored, "raw bytes kept verbatim")
	require.NotContains(t, s.logs.String(), webhookToken)
}

func TestSTKWebhookRefusesOversizedChunkedBody(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	// No Content-Length: the cap applies while reading.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","pad":"`))
		_, _ = pw.Write(bytes.Repeat([]byte("a"), 70<<10))
		_ = pw.CloseWithError(io.EOF)
	}()
	req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken, pr)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := s.serve(t, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox_quarantine`).Scan(&n))
	require.Zero(t, n)
	require.False(t, strings.Contains(rec.Body.String(), "Accepted"))
}

// TestSTKWebhookSkipsGzip: the webhook's ~40-byte answer never reaches the
// 1 KiB threshold, so the route skips the gzip middleware (which otherwise
// resets a deflate writer per request and marks the answer Vary).
func TestSTKWebhookSkipsGzip(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	body, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	require.NoError(t, err)
	r := s.do(t, http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken, body, map[string]string{"Accept-Encoding": "gzip"})
	require.Equal(t, http.StatusOK, r.Code)
	require.Empty(t, r.Header.Values("Vary"), "the gzip middleware did not run")
	require.Empty(t, r.Header.Get("Content-Encoding"))
	r = s.do(t, http.MethodGet, "/healthz", nil, map[string]string{"Accept-Encoding": "gzip"})
	require.Contains(t, r.Header.Values("Vary"), "Accept-Encoding", "other routes keep it")
}
