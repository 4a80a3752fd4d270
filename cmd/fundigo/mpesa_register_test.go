package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/tasks/taskstest"
)

// TestMpesaRegisterC2B is issue #15's `fundigo mpesa register-c2b`: it
// registers this deployment's validation and confirmation URLs (public URL +
// the secret path token) with Daraja, here the simulator, which then sends a
// simulated Pay Bill payment to exactly those URLs. The token is not printed.
func TestMpesaRegisterC2B(t *testing.T) {
	t.Parallel()
	sim := mpesasim.New(mpesasim.Config{})
	t.Cleanup(sim.Close)
	daraja := httptest.NewServer(sim)
	t.Cleanup(daraja.Close)
	var mu sync.Mutex
	var paths []string
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ResultCode":"0","ResultDesc":"Accepted"}`))
	}))
	t.Cleanup(us.Close)
	const token = "register-c2b-token-0123456789"
	vars := map[string]string{
		"FUNDIGO_MPESA_BASE_URL":        daraja.URL,
		"FUNDIGO_MPESA_CALLBACK_TOKEN":  token,
		"FUNDIGO_PUBLIC_URL":            us.URL,
		"FUNDIGO_MPESA_ALLOWED_CIDRS":   "127.0.0.1/32",
		"FUNDIGO_MPESA_CONSUMER_KEY":    "sim-consumer-key",
		"FUNDIGO_MPESA_CONSUMER_SECRET": "sim-consumer-secret",
		"FUNDIGO_MPESA_PASSKEY":         "sim-passkey",
		"FUNDIGO_REDIS_URL":             taskstest.URL(),
		"FUNDIGO_REDIS_KEY_PREFIX":      taskstest.Prefix(t),
	}
	getenv := func(k string) string { return vars[k] }
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"mpesa", "register-c2b"}, getenv, &out, &out), out.String())
	require.Contains(t, out.String(), "/v1/webhooks/daraja/c2b/validation/<token>")
	require.NotContains(t, out.String(), token, "the secret path token is never printed")

	res, err := sim.SimulateC2B(context.Background(), mpesasim.C2BPayment{BillRefNumber: "JOB-1", Amount: 100, MSISDN: "254708374149"})
	require.NoError(t, err)
	require.True(t, res.Confirmed)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/v1/webhooks/daraja/c2b/validation/" + token, "/v1/webhooks/daraja/c2b/confirmation/" + token}, paths)

	// Bad input: an unknown response type, and no Daraja configured.
	err = run(context.Background(), []string{"mpesa", "register-c2b", "--response-type", "Maybe"}, getenv, &out, &out)
	require.ErrorContains(t, err, "want Completed or Cancelled")
	vars["FUNDIGO_MPESA_BASE_URL"] = ""
	err = run(context.Background(), []string{"mpesa", "register-c2b"}, getenv, &out, &out)
	require.ErrorContains(t, err, "FUNDIGO_MPESA_BASE_URL is empty")
	require.False(t, strings.Contains(err.Error(), token))
}
