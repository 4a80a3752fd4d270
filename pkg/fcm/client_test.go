package fcm_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo/exposim"
	"fundigo/pkg/fcm"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return key
}

type bundle struct {
	sim    *exposim.Sim
	client *fcm.Client
	now    *time.Time
	mu     *sync.Mutex
}

func setup(t *testing.T, cfg fcm.Config) bundle {
	t.Helper()
	k := testKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim := exposim.New(exposim.Options{FCMPublicKey: &k.PublicKey, NowFunc: clock})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	sa, err := fcm.ParseServiceAccount([]byte(`{"type":"service_account","project_id":"fundigo-test",
		"private_key_id":"kid1","client_email":"push@fundigo-test.iam.gserviceaccount.com",
		"private_key":` + quote(string(pemKey)) + `,"token_uri":"` + srv.URL + `/token"}`))
	require.NoError(t, err)
	cfg.Account, cfg.BaseURL, cfg.NowFunc = sa, srv.URL, clock
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	c, err := fcm.NewClient(cfg)
	require.NoError(t, err)
	return bundle{sim: sim, client: c, now: &now, mu: &mu}
}

func (b bundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*b.now = b.now.Add(d)
}

func quote(s string) string {
	out := []byte{'"'}
	for _, r := range s {
		switch r {
		case '\n':
			out = append(out, '\\', 'n')
		case '"':
			out = append(out, '\\', '"')
		default:
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}

func TestSendCachesAccessToken(t *testing.T) {
	t.Parallel()
	b := setup(t, fcm.Config{})
	for i := range 5 {
		name, err := b.client.Send(t.Context(), fcm.Message{
			Token: "native-token-" + string(rune('a'+i)), Title: "Hi", Body: "There",
			Data: map[string]string{"k": "v"}, HighPriority: true, CollapseKey: "job-1",
		})
		require.NoError(t, err)
		require.Contains(t, name, "projects/fundigo-test/messages/")
	}
	st := b.sim.Stats()
	require.Equal(t, 5, st.FCMMessages)
	require.Equal(t, 1, st.TokenRequests, "the access token is cached")
	got := b.sim.Received("native-token-a")
	require.Len(t, got, 1)
	require.Equal(t, "Hi", got[0].Title)
	require.Equal(t, "high", got[0].Priority)
	require.Equal(t, "job-1", got[0].CollapseID)
	require.Equal(t, map[string]any{"k": "v"}, got[0].Data)

	// Close to expiry (1 h tokens, refreshed 5 min early) a new one is minted.
	b.advance(56 * time.Minute)
	_, err := b.client.Send(t.Context(), fcm.Message{Token: "native-token-z", Title: "x"})
	require.NoError(t, err)
	require.Equal(t, 2, b.sim.Stats().TokenRequests)
}

func TestSendUnregistered(t *testing.T) {
	t.Parallel()
	b := setup(t, fcm.Config{})
	_, err := b.client.Send(t.Context(), fcm.Message{Token: "InvalidNative", Title: "x"})
	require.ErrorIs(t, err, fcm.ErrUnregistered)
	require.False(t, fcm.IsTemporary(err))
	require.Equal(t, 1, b.sim.Stats().FCMRejected, "UNREGISTERED is not retried")
}

func TestSendRetriesTemporaryErrors(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, fcm.Config{})
			b.sim.FailNextFCM(2, status, 0)
			_, err := b.client.Send(t.Context(), fcm.Message{Token: "tok", Title: "x"})
			require.NoError(t, err)
			st := b.sim.Stats()
			require.Equal(t, 2, st.FCMRejected)
			require.Equal(t, 1, st.FCMMessages)
		})
	}
}

func TestSendGivesUpWithTemporaryError(t *testing.T) {
	t.Parallel()
	b := setup(t, fcm.Config{MaxAttempts: 2})
	b.sim.FailNextFCM(5, http.StatusTooManyRequests, 0)
	_, err := b.client.Send(t.Context(), fcm.Message{Token: "tok", Title: "x"})
	var fe *fcm.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, fcm.CodeQuotaExceeded, fe.Code)
	require.True(t, fcm.IsTemporary(err))
	require.Equal(t, 2, b.sim.Stats().FCMRejected)
}

func TestSendRefreshesTokenAfter401(t *testing.T) {
	t.Parallel()
	b := setup(t, fcm.Config{})
	_, err := b.client.Send(t.Context(), fcm.Message{Token: "tok", Title: "x"})
	require.NoError(t, err)
	b.sim.FailNextFCM(1, http.StatusUnauthorized, 0)
	_, err = b.client.Send(t.Context(), fcm.Message{Token: "tok", Title: "x"})
	require.NoError(t, err)
	require.Equal(t, 2, b.sim.Stats().TokenRequests, "a 401 drops the cached token")
}

func TestSendRejectsInvalidMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, fcm.Config{})
	_, err := b.client.Send(t.Context(), fcm.Message{Title: "x"})
	require.ErrorIs(t, err, fcm.ErrInvalidMessage)
	big := make([]byte, 5000)
	for i := range big {
		big[i] = 'a'
	}
	_, err = b.client.Send(t.Context(), fcm.Message{Token: "t", Body: string(big)})
	require.ErrorIs(t, err, fcm.ErrInvalidMessage)
	require.Zero(t, b.sim.Stats().TokenRequests+b.sim.Stats().FCMMessages)
}

func TestParseServiceAccount(t *testing.T) {
	t.Parallel()
	_, err := fcm.ParseServiceAccount([]byte(`{"project_id":"p"}`))
	require.Error(t, err)
	_, err = fcm.ParseServiceAccount([]byte(`not json`))
	require.Error(t, err)
	sa, err := fcm.ParseServiceAccount([]byte(`{"client_email":"a@b","private_key":"SECRET-KEY","project_id":"p"}`))
	require.NoError(t, err)
	require.NotContains(t, sa.String(), "SECRET-KEY")
}
