package notification

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/fcm"
)

// withFCM points the worker at an FCM client talking to the simulator.
func (b bundle) withFCM(t *testing.T) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	srv := httptest.NewServer(b.sim)
	t.Cleanup(srv.Close)
	raw, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "fundigo-test", "client_email": "push@fundigo-test.iam.gserviceaccount.com",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": srv.URL + "/token",
	})
	require.NoError(t, err)
	sa, err := fcm.ParseServiceAccount(raw)
	require.NoError(t, err)
	c, err := fcm.NewClient(fcm.Config{BaseURL: srv.URL, Account: sa, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	b.p.cfg.FCM = c
}

func TestFCMDevices(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.withFCM(t)
	devices := NewStore(b.p.cfg.Pool)
	for _, d := range []Device{
		{Token: "fcm-native-1", UserID: "u1", Platform: "fcm", Locale: "sw"},
		{Token: "fcm-InvalidNative", UserID: "u2", Platform: "fcm", Locale: "en"},
		{Token: "ExponentPushToken[mixed]", UserID: "u2", Platform: "expo", Locale: "en"},
	} {
		_, _, err := devices.UpsertDevice(t.Context(), d, true)
		require.NoError(t, err)
	}
	b.sim.FailNextFCM(1, http.StatusServiceUnavailable, 0)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{
		ID: id, UserIDs: []string{"u1", "u2"}, Template: "job_assigned", Params: map[string]any{"job_id": "J-1"},
		Data: map[string]any{"n": 5},
	}))
	b.drain(t, id)
	require.Equal(t, Counts{Devices: 3, Sent: 2, Delivered: 1, AwaitingReceipt: 1, InvalidTokens: 1}, b.counts(t, id))
	got := b.sim.Received("fcm-native-1")
	require.Len(t, got, 1)
	require.Equal(t, "Umepewa kazi mpya", got[0].Title)
	require.Equal(t, "5", got[0].Data["n"], "FCM data values are strings")
	dead, err := devices.Device(t.Context(), "fcm-InvalidNative")
	require.NoError(t, err)
	require.False(t, dead.Active, "UNREGISTERED deactivates the token")
	require.Equal(t, 2, b.sim.Stats().FCMRejected, "one injected 503 (retried) and one UNREGISTERED")
}

func TestFCMNotConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	_, _, err := NewStore(b.p.cfg.Pool).UpsertDevice(t.Context(), Device{Token: "fcm-x", UserID: "u1", Platform: "fcm", Locale: "en"}, true)
	require.NoError(t, err)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: id, UserIDs: []string{"u1"}, Title: "t", Body: "b"}))
	b.drain(t, id)
	require.Equal(t, Counts{Devices: 1, Failed: 1}, b.counts(t, id))
	var code string
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(),
		`SELECT error FROM notification_deliveries WHERE notification_id = $1`, id).Scan(&code))
	require.Equal(t, errFCMNotConfigured, code, "failed for the missing client, not some other cause")
}
