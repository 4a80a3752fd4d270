package mpesa_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/tasks/taskstest"
)

// contractEnv is one Daraja implementation under the client contract: a
// client pointed at it and the callbacks it sends.
type contractEnv struct {
	client    *mpesa.Client
	newClient func(mutate func(*mpesa.ClientConfig)) *mpesa.Client
	callbacks <-chan []byte
	// phones with a known outcome on this implementation
	phoneOK, phoneCancelled, phoneSilent string
}

// simEnv runs the contract against the simulator.
func simEnv(t *testing.T, simCfg mpesasim.Config) (contractEnv, *mpesasim.Sim) {
	t.Helper()
	cbs := make(chan []byte, 64)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		cbs <- b
		_, _ = io.WriteString(w, `{"ResultCode":0,"ResultDesc":"Accepted"}`)
	}))
	t.Cleanup(receiver.Close)
	if simCfg.CallbackDelay == 0 {
		simCfg.CallbackDelay = 50 * time.Millisecond
	}
	sim := mpesasim.New(simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })

	rdb := taskstest.Redis(t)
	key := taskstest.Prefix(t) + "mpesa:oauth"
	sc := sim.Config()
	newClient := func(mutate func(*mpesa.ClientConfig)) *mpesa.Client {
		cfg := mpesa.ClientConfig{
			BaseURL: srv.URL, ConsumerKey: sc.ConsumerKey, ConsumerSecret: sc.ConsumerSecret,
			ShortCode: sc.ShortCode, Passkey: sc.Passkey, CallbackURL: receiver.URL + "/cb/secret",
			TokenKey: key, Timeout: 5 * time.Second,
		}
		if mutate != nil {
			mutate(&cfg)
		}
		c, err := mpesa.NewClient(rdb, cfg)
		require.NoError(t, err)
		return c
	}
	return contractEnv{
		client: newClient(nil), newClient: newClient, callbacks: cbs,
		phoneOK: mpesasim.PhoneSuccess, phoneCancelled: mpesasim.PhoneCancelled, phoneSilent: mpesasim.PhoneSilent,
	}, sim
}

func TestClientContractSimulator(t *testing.T) {
	t.Parallel()
	runClientContract(t, func(t *testing.T) contractEnv {
		env, _ := simEnv(t, mpesasim.Config{})
		return env
	})
}

// runClientContract is what workers/payments relies on from any Daraja.
func runClientContract(t *testing.T, newEnv func(t *testing.T) contractEnv) {
	push := func(phone string, amount int64) mpesa.PushRequest {
		return mpesa.PushRequest{Amount: amount, PhoneNumber: phone,
			AccountReference: "JOB-123456789012345", TransactionDesc: "FundiGO job payment"}
	}
	t.Run("push success, callback and query agree", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ctx := context.Background()
		res, err := env.client.STKPush(ctx, push(env.phoneOK, 1500))
		require.NoError(t, err)
		require.NotEmpty(t, res.MerchantRequestID)
		require.NotEmpty(t, res.CheckoutRequestID)
		cb := waitCallback(t, env.callbacks)
		require.Equal(t, res.CheckoutRequestID, cb.CheckoutRequestID)
		require.True(t, cb.Success())
		require.Equal(t, int64(150000), cb.Metadata.Amount)
		require.Equal(t, env.phoneOK, cb.Metadata.PhoneNumber)
		require.NotEmpty(t, cb.Metadata.MpesaReceiptNumber)
		q, err := env.client.STKQuery(ctx, res.CheckoutRequestID)
		require.NoError(t, err)
		require.False(t, q.Pending)
		require.Equal(t, "0", q.ResultCode)
	})
	t.Run("push cancelled", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		res, err := env.client.STKPush(context.Background(), push(env.phoneCancelled, 10))
		require.NoError(t, err)
		cb := waitCallback(t, env.callbacks)
		require.Equal(t, res.CheckoutRequestID, cb.CheckoutRequestID)
		require.Equal(t, mpesa.ReasonCancelled, mpesa.ReasonFor(cb.ResultCode))
		q, err := env.client.STKQuery(context.Background(), res.CheckoutRequestID)
		require.NoError(t, err)
		require.Equal(t, "1032", q.ResultCode)
	})
	t.Run("query while the customer is on the prompt is pending", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		res, err := env.client.STKPush(context.Background(), push(env.phoneSilent, 10))
		require.NoError(t, err)
		q, err := env.client.STKQuery(context.Background(), res.CheckoutRequestID)
		require.NoError(t, err)
		require.True(t, q.Pending)
	})
	t.Run("refused request is an APIError, not retryable", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		_, err := env.client.STKPush(context.Background(), push(env.phoneOK, 0))
		var apiErr *mpesa.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, mpesa.CodeBadRequest, apiErr.Code)
		require.False(t, mpesa.Retryable(err))
		require.NotErrorIs(t, err, mpesa.ErrAmbiguous)
	})
	t.Run("wrong passkey is refused", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c := env.newClient(func(c *mpesa.ClientConfig) { c.Passkey = "wrong" })
		_, err := c.STKPush(context.Background(), push(env.phoneOK, 10))
		var apiErr *mpesa.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, mpesa.CodeGeneric500, apiErr.Code)
		require.False(t, mpesa.Retryable(err))
	})
	t.Run("wrong consumer secret never sends the push", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c := env.newClient(func(c *mpesa.ClientConfig) { c.ConsumerSecret = "wrong"; c.TokenKey += ":other" })
		_, err := c.STKPush(context.Background(), push(env.phoneOK, 10))
		require.ErrorIs(t, err, mpesa.ErrNotSent)
	})
	t.Run("unknown checkout id is refused", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		_, err := env.client.STKQuery(context.Background(), "ws_CO_000000000000000000")
		var apiErr *mpesa.APIError
		require.ErrorAs(t, err, &apiErr)
		// payment.Confirm takes this as a final "not Daraja's push": a forged
		// CheckoutRequestID is never confirmed, and never retried for ever.
		require.False(t, mpesa.Retryable(err))
	})

}

func waitCallback(t *testing.T, ch <-chan []byte) *mpesa.STKCallback {
	t.Helper()
	select {
	case b := <-ch:
		cb, err := mpesa.ParseCallback(b)
		require.NoError(t, err)
		return cb
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
		return nil
	}
}

func TestClientSharesOneToken(t *testing.T) {
	t.Parallel()
	env, sim := simEnv(t, mpesasim.Config{})
	// Three "processes" sharing Redis, twenty concurrent pushes: one token.
	clients := []*mpesa.Client{env.client, env.newClient(nil), env.newClient(nil)}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := clients[i%3].STKPush(context.Background(),
				mpesa.PushRequest{Amount: 1, PhoneNumber: mpesasim.PhoneSilent, AccountReference: "A"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, sim.Stats().TokensIssued)
	require.Equal(t, 20, sim.Stats().Pushes)
}

func TestClientRefreshesRevokedToken(t *testing.T) {
	t.Parallel()
	env, sim := simEnv(t, mpesasim.Config{})
	req := mpesa.PushRequest{Amount: 1, PhoneNumber: mpesasim.PhoneSilent, AccountReference: "A"}
	_, err := env.client.STKPush(context.Background(), req)
	require.NoError(t, err)
	sim.ExpireToken()
	_, err = env.client.STKPush(context.Background(), req)
	require.NoError(t, err, "a refused token is refreshed and the request sent once more")
	require.Equal(t, 2, sim.Stats().TokensIssued)
	require.Equal(t, 2, sim.Stats().Pushes)
}

func TestClientRefreshesBeforeExpiry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env, sim := simEnv(t, mpesasim.Config{TokenExpiresIn: 10 * time.Minute, NowFunc: clock})
	c := env.newClient(func(c *mpesa.ClientConfig) { c.NowFunc = clock })
	req := mpesa.PushRequest{Amount: 1, PhoneNumber: mpesasim.PhoneSilent, AccountReference: "A"}
	_, err := c.STKPush(context.Background(), req)
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(4 * time.Minute) // 6 min left: outside the 5 min margin
	mu.Unlock()
	_, err = c.STKPush(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, 1, sim.Stats().TokensIssued)
	mu.Lock()
	now = now.Add(2 * time.Minute) // 4 min left: refresh now, before it expires
	mu.Unlock()
	_, err = c.STKPush(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, 2, sim.Stats().TokensIssued)
}

func TestClientClassifiesFailures(t *testing.T) {
	t.Parallel()
	req := mpesa.PushRequest{Amount: 1, PhoneNumber: mpesasim.PhoneSuccess, AccountReference: "A"}

	t.Run("busy 5xx with error body is retryable, not ambiguous", func(t *testing.T) {
		t.Parallel()
		env, sim := simEnv(t, mpesasim.Config{})
		sim.SetFaults(mpesasim.Faults{Fail5xx: 1})
		_, err := env.client.STKPush(context.Background(), req)
		var apiErr *mpesa.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, mpesa.CodeSpikeArrest, apiErr.Code)
		require.True(t, mpesa.Retryable(err))
		require.NotErrorIs(t, err, mpesa.ErrAmbiguous)
		require.Equal(t, 0, sim.Stats().Pushes)
		_, err = env.client.STKPush(context.Background(), req)
		require.NoError(t, err)
	})
	t.Run("timeout after sending is ambiguous and the push did happen", func(t *testing.T) {
		t.Parallel()
		env, sim := simEnv(t, mpesasim.Config{})
		c := env.newClient(func(c *mpesa.ClientConfig) { c.Timeout = 300 * time.Millisecond })
		_, err := c.STKPush(context.Background(), mpesa.PushRequest{Amount: 1, PhoneNumber: mpesasim.PhoneSilent, AccountReference: "A"})
		require.NoError(t, err) // token fetched and cached
		sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 3 * time.Second})
		_, err = c.STKPush(context.Background(), req)
		require.ErrorIs(t, err, mpesa.ErrAmbiguous)
		require.False(t, mpesa.Retryable(err))
		require.Equal(t, 2, sim.Stats().Pushes)
		cb := waitCallback(t, env.callbacks)
		require.True(t, cb.Success())
	})
	t.Run("dial error is not sent", func(t *testing.T) {
		t.Parallel()
		env, _ := simEnv(t, mpesasim.Config{})
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		c := env.newClient(func(c *mpesa.ClientConfig) { c.BaseURL = dead.URL; c.TokenKey += ":dead" })
		_, err := c.STKPush(context.Background(), req)
		require.ErrorIs(t, err, mpesa.ErrNotSent)
		require.True(t, mpesa.Retryable(err))
	})
	t.Run("bare 5xx after sending is ambiguous", func(t *testing.T) {
		t.Parallel()
		env, sim := simEnv(t, mpesasim.Config{})
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/v1/generate" {
				sim.ServeHTTP(w, r)
				return
			}
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}))
		t.Cleanup(gw.Close)
		c := env.newClient(func(c *mpesa.ClientConfig) { c.BaseURL = gw.URL })
		_, err := c.STKPush(context.Background(), req)
		require.ErrorIs(t, err, mpesa.ErrAmbiguous)
		require.False(t, errors.Is(err, mpesa.ErrNotSent))
	})
}

// lockedBuffer is an io.Writer safe for the simulator's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func TestSimFailedCallbackLogKeepsTheURLTokenOut(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	env, sim := simEnv(t, mpesasim.Config{CallbackDelay: 10 * time.Millisecond, Log: zerolog.New(&logs)})
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // deliveries to it fail with a connection error naming the URL
	client := env.newClient(func(c *mpesa.ClientConfig) { c.CallbackURL = gone.URL + "/hooks/s3cr3t-path-token/stk" })
	_, err := client.STKPush(context.Background(), mpesa.PushRequest{Amount: 10, PhoneNumber: env.phoneOK,
		AccountReference: "JOB1", TransactionDesc: "pay"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sim.Stats().CallbacksFailed == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, logs.String(), "callback not delivered")
	require.NotContains(t, logs.String(), "s3cr3t-path-token")
}
