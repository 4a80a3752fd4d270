package mpesasim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
)

// TestValidation checks the simulator refuses what Daraja refuses, with
// Daraja's error envelope.
func TestValidation(t *testing.T) {
	t.Parallel()
	sim := mpesasim.New(mpesasim.Config{CallbackDelay: time.Hour})
	t.Cleanup(sim.Close)
	cfg := sim.Config()

	tokenReq := httptest.NewRequest(http.MethodGet, "/oauth/v1/generate?grant_type=client_credentials", nil)
	tokenReq.SetBasicAuth(cfg.ConsumerKey, cfg.ConsumerSecret)
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, tokenReq)
	require.Equal(t, http.StatusOK, rec.Code)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tok))
	require.Equal(t, "3599", tok.ExpiresIn)

	ts := mpesa.FormatTimestamp(time.Now())
	valid := func() map[string]any {
		return map[string]any{
			"BusinessShortCode": cfg.ShortCode, "Password": mpesa.Password(cfg.ShortCode, cfg.Passkey, ts),
			"Timestamp": ts, "TransactionType": "CustomerPayBillOnline", "Amount": 10,
			"PartyA": mpesasim.PhoneSilent, "PartyB": cfg.ShortCode, "PhoneNumber": mpesasim.PhoneSilent,
			"CallBackURL": "https://example.com/cb", "AccountReference": "JOB1", "TransactionDesc": "pay",
		}
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		ctype  string
		auth   string
		status int
		code   string
		msg    string
	}{
		{name: "accepted", status: 200},
		{name: "amount as string", mutate: func(m map[string]any) { m["Amount"] = "10" }, status: 200},
		{name: "decimal amount", mutate: func(m map[string]any) { m["Amount"] = 10.5 }, status: 400, code: "400.002.02", msg: "Invalid Amount"},
		{name: "amount over limit", mutate: func(m map[string]any) { m["Amount"] = 250001 }, status: 400, msg: "Invalid Amount"},
		{name: "local phone form", mutate: func(m map[string]any) { m["PhoneNumber"] = "0708374149" }, status: 400, msg: "Invalid PhoneNumber"},
		{name: "long reference", mutate: func(m map[string]any) { m["AccountReference"] = "1234567890123" }, status: 400, msg: "Invalid AccountReference"},
		{name: "long description", mutate: func(m map[string]any) { m["TransactionDesc"] = "12345678901234" }, status: 400, msg: "Invalid TransactionDesc"},
		{name: "callback url with space", mutate: func(m map[string]any) { m["CallBackURL"] = "https://example.com/c b" }, status: 400, msg: "Invalid CallBackURL"},
		{name: "utc timestamp", mutate: func(m map[string]any) {
			utc := time.Now().UTC().Add(-3 * time.Hour).Format(mpesa.TimestampLayout)
			m["Timestamp"], m["Password"] = utc, mpesa.Password(cfg.ShortCode, cfg.Passkey, utc)
		}, status: 400, msg: "Invalid Timestamp"},
		{name: "wrong password", mutate: func(m map[string]any) { m["Password"] = "x" }, status: 500, code: "500.001.1001", msg: "Wrong credentials"},
		{name: "wrong shortcode", mutate: func(m map[string]any) { m["BusinessShortCode"] = "1" }, status: 400, msg: "Invalid BusinessShortCode"},
		{name: "bad transaction type", mutate: func(m map[string]any) { m["TransactionType"] = "X" }, status: 400, msg: "Invalid TransactionType"},
		{name: "no content type", ctype: "-", status: 400, msg: "Invalid Content-Type"},
		{name: "bad token", auth: "Bearer nope", status: 404, code: "404.001.03", msg: "Invalid Access Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := valid()
			if tt.mutate != nil {
				tt.mutate(body)
			}
			b, err := json.Marshal(body)
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/mpesa/stkpush/v1/processrequest", strings.NewReader(string(b)))
			if tt.ctype != "-" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			var out map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
			if tt.status == 200 {
				require.Equal(t, "0", out["ResponseCode"])
				require.True(t, strings.HasPrefix(out["CheckoutRequestID"], "ws_CO_"))
				return
			}
			if tt.code != "" {
				require.Equal(t, tt.code, out["errorCode"])
			}
			require.Contains(t, out["errorMessage"], tt.msg)
			require.NotEmpty(t, out["requestId"])
		})
	}
}

func TestBehaviours(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0", mpesasim.BehaviourFor(mpesasim.PhoneSuccess).ResultCode)
	require.Equal(t, "0", mpesasim.BehaviourFor("254711111111").ResultCode)
	require.Equal(t, "1032", mpesasim.BehaviourFor(mpesasim.PhoneCancelled).ResultCode)
	q := mpesasim.BehaviourFor(mpesasim.PhoneQueryOnly)
	require.False(t, q.Callback)
	require.True(t, q.QueryFinal)
	s := mpesasim.BehaviourFor(mpesasim.PhoneSilent)
	require.False(t, s.Callback)
	require.False(t, s.QueryFinal)
	body := mpesasim.CallbackBody("m", "ws_CO_1", "0", "ok", 1500, "ABC", mpesasim.PhoneSuccess, time.Now())
	cb, err := mpesa.ParseCallback(body)
	require.NoError(t, err)
	require.Equal(t, int64(150000), cb.Metadata.Amount)
	require.Equal(t, "", cb.Metadata.Balance)
}
