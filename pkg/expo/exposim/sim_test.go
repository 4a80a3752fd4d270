package exposim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo/exposim"
)

func post(t *testing.T, srv *httptest.Server, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func setup(t *testing.T) (*exposim.Sim, *httptest.Server) {
	t.Helper()
	sim := exposim.New(exposim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func TestSendShapes(t *testing.T) {
	t.Parallel()
	sim, srv := setup(t)

	// A single object with a `to` array: one ticket per recipient.
	resp, out := post(t, srv, "/--/api/v2/push/send",
		`{"to":["ExpoPushToken[a]","ExpoPushToken[Invalid1]","bogus"],"title":"t"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	data := out["data"].([]any)
	require.Len(t, data, 3)
	require.Equal(t, "ok", data[0].(map[string]any)["status"])
	for _, i := range []int{1, 2} {
		tk := data[i].(map[string]any)
		require.Equal(t, "error", tk["status"])
		require.Equal(t, "DeviceNotRegistered", tk["details"].(map[string]any)["error"])
	}

	// Oversized payload.
	resp, out = post(t, srv, "/--/api/v2/push/send",
		`[{"to":"ExpoPushToken[b]","body":"`+strings.Repeat("x", 5000)+`"}]`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "MessageTooBig", out["data"].([]any)[0].(map[string]any)["details"].(map[string]any)["error"])

	// Too many messages.
	var msgs []string
	for i := range 101 {
		msgs = append(msgs, fmt.Sprintf(`{"to":"ExpoPushToken[m%d]"}`, i))
	}
	resp, out = post(t, srv, "/--/api/v2/push/send", "["+strings.Join(msgs, ",")+"]")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "PUSH_TOO_MANY_NOTIFICATIONS", out["errors"].([]any)[0].(map[string]any)["code"])

	// Garbage.
	resp, _ = post(t, srv, "/--/api/v2/push/send", `{"to":`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	st := sim.Stats()
	require.Equal(t, 2, st.SendRequests)
	require.Equal(t, 4, st.Messages)
	require.Equal(t, 3, st.TicketErrors)
	require.Equal(t, 2, st.Rejected)
	require.Equal(t, []int{3, 1}, st.RequestSizes)
	require.Equal(t, "t", sim.Received("ExpoPushToken[a]")[0].Title)
}

func TestReceiptsLimit(t *testing.T) {
	t.Parallel()
	_, srv := setup(t)
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = fmt.Sprintf("%d", i)
	}
	b, _ := json.Marshal(map[string]any{"ids": ids})
	resp, out := post(t, srv, "/--/api/v2/push/getReceipts", string(b))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "PUSH_TOO_MANY_RECEIPTS", out["errors"].([]any)[0].(map[string]any)["code"])
}

func TestRateEnforcementAndInjectedFailures(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	sim := exposim.New(exposim.Options{NowFunc: func() time.Time { return now }})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sim.SetRateLimit(2)
	body := `[{"to":"ExpoPushToken[a]"},{"to":"ExpoPushToken[b]"}]`
	resp, _ := post(t, srv, "/--/api/v2/push/send", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, out := post(t, srv, "/--/api/v2/push/send", body)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Equal(t, "TOO_MANY_REQUESTS", out["errors"].([]any)[0].(map[string]any)["code"])

	// The control endpoint queues failures.
	resp, _ = post(t, srv, "/_sim/fail", `{"status":503,"count":1,"retry_after_seconds":2}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	now = now.Add(time.Second)
	resp, _ = post(t, srv, "/--/api/v2/push/send", body)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	resp, _ = post(t, srv, "/--/api/v2/push/send", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err := srv.Client().Get(srv.URL + "/_sim/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st exposim.Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.Equal(t, 4, st.Messages)
	require.Equal(t, 2, st.Rejected)
	require.Equal(t, map[int64]int{1_800_000_000: 2, 1_800_000_001: 2}, st.PerSecond)

	resp, err = srv.Client().Post(srv.URL+"/_sim/fail", "application/json", bytes.NewReader([]byte(`{"status":200}`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestFCMRequiresToken(t *testing.T) {
	t.Parallel()
	_, srv := setup(t)
	resp, out := post(t, srv, "/v1/projects/p/messages:send", `{"message":{"token":"x"}}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "UNAUTHENTICATED", out["error"].(map[string]any)["status"])
}

// TestRecentMessages: GET /_sim/messages shows the last messages as
// rendered, newest first, optionally for one token, and keeps MaxRecent.
func TestRecentMessages(t *testing.T) {
	t.Parallel()
	_, srv := setup(t)
	for i := range exposim.MaxRecent + 5 {
		body := fmt.Sprintf(`[{"to":"ExpoPushToken[%d]","title":"Malipo %d","body":"Umelipa"}]`, i%3, i)
		resp, _ := post(t, srv, "/--/api/v2/push/send", body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	get := func(q string) []exposim.Received {
		resp, err := http.Get(srv.URL + "/_sim/messages" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out struct{ Messages []exposim.Received }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Messages
	}
	last := get("")
	require.Len(t, last, 20)
	require.Equal(t, fmt.Sprintf("Malipo %d", exposim.MaxRecent+4), last[0].Title, "newest first")
	require.Len(t, get("?limit=100"), exposim.MaxRecent, "only the last MaxRecent are kept")
	for _, m := range get("?token=ExpoPushToken[1]&limit=5") {
		require.Equal(t, "ExpoPushToken[1]", m.Token)
	}
	resp, err := http.Get(srv.URL + "/_sim/messages?limit=0")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestReceiptsOfIssuedTicketsOnly: every ticket the simulator issued has a
// receipt (ok, or DeviceNotRegistered for an "InvalidLater" token); an id it
// never issued, including one shaped like its own beyond the last issued,
// is absent from the answer, as Expo leaves out unknown ids.
func TestReceiptsOfIssuedTicketsOnly(t *testing.T) {
	t.Parallel()
	sim, srv := setup(t)
	resp, out := post(t, srv, "/--/api/v2/push/send",
		`[{"to":"ExpoPushToken[a]","title":"t"},{"to":"ExpoPushToken[InvalidLater1]","title":"t"}]`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	data := out["data"].([]any)
	okID := data[0].(map[string]any)["id"].(string)
	laterID := data[1].(map[string]any)["id"].(string)
	require.Len(t, okID, 36)
	require.NotEqual(t, okID, laterID)
	beyond := laterID[:24] + "00000000ffff"
	other := "00000000-0000-4000-8000-000000000001"

	b, _ := json.Marshal(map[string]any{"ids": []string{okID, laterID, beyond, other, "", "x"}})
	resp, out = post(t, srv, "/--/api/v2/push/getReceipts", string(b))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := out["data"].(map[string]any)
	require.Len(t, got, 2, "only issued tickets have receipts: %v", got)
	require.Equal(t, "ok", got[okID].(map[string]any)["status"])
	later := got[laterID].(map[string]any)
	require.Equal(t, "error", later["status"])
	require.Equal(t, "DeviceNotRegistered", later["details"].(map[string]any)["error"])
	require.Equal(t, 2, sim.MessageCount())
}

// TestReceivedKeepsEachTokensLastMessages: the bodies kept per token are
// bounded (the last MaxPerToken, oldest first) while the per-token count
// stays exact.
func TestReceivedKeepsEachTokensLastMessages(t *testing.T) {
	t.Parallel()
	sim, srv := setup(t)
	n := exposim.MaxPerToken + 7
	for i := range n {
		resp, _ := post(t, srv, "/--/api/v2/push/send", fmt.Sprintf(`{"to":"ExpoPushToken[k]","title":"m%d"}`, i))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	got := sim.Received("ExpoPushToken[k]")
	require.Len(t, got, exposim.MaxPerToken)
	require.Equal(t, "m7", got[0].Title)
	require.Equal(t, fmt.Sprintf("m%d", n-1), got[len(got)-1].Title)
	require.Equal(t, n, sim.Stats().PerToken["ExpoPushToken[k]"])
	require.Equal(t, n, sim.MessageCount())
}
