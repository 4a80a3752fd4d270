package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreatePaymentAcceptsEveryPhoneSpelling(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, noSTKCaps) // four spellings of one phone
	for _, phone := range []string{"0712345678", "0112345678", "+254712345678", "254712345678", "254112345678", "0712 345-678"} {
		t.Run(phone, func(t *testing.T) {
			t.Parallel()
			r := s.do(t, http.MethodPost, "/v1/payments", map[string]any{
				"job_id": "job-1", "customer_id": "cust-1", "phone": phone, "amount": 1500,
			}, serviceAuth())
			require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
			p := r.JSON(t)
			require.Equal(t, "pending", p["status"])
			require.Regexp(t, `^254[17]\*\*\*\*\d{4}$`, p["phone"])
			require.Equal(t, float64(1500), p["amount"])
			id := p["id"].(string)

			var stored string
			require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT phone FROM payments WHERE id = $1`, id).Scan(&stored))
			require.Regexp(t, `^254[17]\d{8}$`, stored)
			// The push task exists under the payment's id.
			info, err := s.deps.Inspector.GetTaskInfo(s.deps.Queues.Critical, id)
			require.NoError(t, err)
			require.Equal(t, "mpesa:stk_push", info.Type)

			got := s.do(t, http.MethodGet, "/v1/payments/"+id, nil, serviceAuth())
			require.Equal(t, http.StatusOK, got.Code)
			g := got.JSON(t)
			require.Equal(t, p["phone"], g["phone"])
			for _, k := range []string{"failure_reason", "result_code", "result_desc", "mpesa_receipt", "merchant_request_id", "checkout_request_id"} {
				require.Contains(t, g, k)
				require.Nil(t, g[k])
			}
		})
	}
}

func TestCreatePaymentValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.Payments.MaxAmount = 70000; noPaymentThrottle(d) })
	valid := func() map[string]any {
		return map[string]any{"job_id": "j", "customer_id": "c", "phone": "0712345678", "amount": 10}
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		field  string
	}{
		{"landline", func(m map[string]any) { m["phone"] = "0202345678" }, "phone"},
		{"short phone", func(m map[string]any) { m["phone"] = "071234567" }, "phone"},
		{"foreign phone", func(m map[string]any) { m["phone"] = "+255712345678" }, "phone"},
		{"zero amount", func(m map[string]any) { m["amount"] = 0 }, "amount"},
		{"over configured max", func(m map[string]any) { m["amount"] = 70001 }, "amount"},
		{"decimal amount", func(m map[string]any) { m["amount"] = 10.5 }, "amount"},
		{"amount as string", func(m map[string]any) { m["amount"] = "10" }, "amount"},
		{"missing amount", func(m map[string]any) { delete(m, "amount") }, "amount"},
		{"missing job", func(m map[string]any) { delete(m, "job_id") }, "job_id"},
		{"missing customer", func(m map[string]any) { m["customer_id"] = " " }, "customer_id"},
		{"unknown field", func(m map[string]any) { m["currency"] = "KES" }, "currency"},
		{"technician too long", func(m map[string]any) { m["technician_id"] = strings.Repeat("t", 129) }, "technician_id"},
		{"NUL in any field", func(m map[string]any) { m["job_id"] = "job\x00-1" }, "body"},
		{"technician not a string", func(m map[string]any) { m["technician_id"] = 7 }, "technician_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := valid()
			tt.mutate(body)
			r := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth())
			require.Equal(t, http.StatusUnprocessableEntity, r.Code, string(r.Body))
			errs := r.JSON(t)["errors"].([]any)
			fields := []string{}
			for _, e := range errs {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			require.Contains(t, fields, tt.field)
		})
	}
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM payments`).Scan(&n))
	require.Zero(t, n, "bad input changes nothing")
}

func TestCreatePaymentIdempotencyAndAuth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	body := map[string]any{"job_id": "j", "customer_id": "c", "phone": "0712345678", "amount": 10}
	first := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "pay-1"))
	require.Equal(t, http.StatusAccepted, first.Code)
	again := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "pay-1"))
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, first.JSON(t)["id"], again.JSON(t)["id"])
	body["amount"] = 11
	conflict := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "pay-1"))
	require.Equal(t, http.StatusConflict, conflict.Code)
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM payments`).Scan(&n))
	require.Equal(t, 1, n)

	require.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodPost, "/v1/payments", body, nil).Code)
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/v1/payments/00000000-0000-0000-0000-000000000000", nil, serviceAuth()).Code)
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/v1/payments/not-a-uuid", nil, serviceAuth()).Code)
	require.NotContains(t, s.logs.String(), "254712345678")
}

// technician_id is optional: trimmed, stored, echoed by POST and GET, left
// out when absent or blank, and part of the body an Idempotency-Key covers.
func TestCreatePaymentTechnicianID(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, noPaymentThrottle)
	create := func(t *testing.T, tech any, headers map[string]string) testResponse {
		t.Helper()
		body := map[string]any{"job_id": "j-" + t.Name(), "customer_id": "c", "phone": "0712345678", "amount": 10}
		if tech != nil {
			body["technician_id"] = tech
		}
		return s.do(t, http.MethodPost, "/v1/payments", body, headers)
	}
	stored := func(t *testing.T, id string) *string {
		t.Helper()
		var v *string
		require.NoError(t, s.deps.Pool.QueryRow(context.Background(),
			`SELECT technician_id FROM payments WHERE id = $1`, id).Scan(&v))
		return v
	}
	long := strings.Repeat("é", 128) // 128 characters, 256 bytes

	for _, tc := range []struct {
		name string
		in   any
		want string // "" = absent
	}{
		{"present", "tech-7", "tech-7"},
		{"trimmed", "  tech-7\t", "tech-7"},
		{"128 characters", long, long},
		{"blank is absent", "   ", ""},
		{"empty is absent", "", ""},
		{"not sent", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := create(t, tc.in, serviceAuth())
			require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
			id := r.JSON(t)["id"].(string)
			got := s.do(t, http.MethodGet, "/v1/payments/"+id, nil, serviceAuth())
			require.Equal(t, http.StatusOK, got.Code)
			for _, m := range []map[string]any{r.JSON(t), got.JSON(t)} {
				if tc.want == "" {
					require.NotContains(t, m, "technician_id")
					continue
				}
				require.Equal(t, tc.want, m["technician_id"])
			}
			if tc.want == "" {
				require.Nil(t, stored(t, id), "absent is NULL, never ''")
			} else {
				require.Equal(t, tc.want, *stored(t, id))
			}
		})
	}

	t.Run("too long", func(t *testing.T) {
		t.Parallel()
		r := create(t, long+"x", serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, string(r.Body))
		require.Contains(t, string(r.Body), `"technician_id"`)
	})

	t.Run("idempotency key covers it", func(t *testing.T) {
		t.Parallel()
		first := create(t, "tech-7", serviceAuth("Idempotency-Key", "tech-pay-1"))
		require.Equal(t, http.StatusAccepted, first.Code, string(first.Body))
		again := create(t, "tech-7", serviceAuth("Idempotency-Key", "tech-pay-1"))
		require.Equal(t, http.StatusAccepted, again.Code)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(again.Body))
		require.Equal(t, "tech-7", again.JSON(t)["technician_id"])
		for _, other := range []any{"tech-8", nil} {
			r := create(t, other, serviceAuth("Idempotency-Key", "tech-pay-1"))
			require.Equal(t, http.StatusConflict, r.Code, "technician %v: %s", other, r.Body)
		}
		var n int
		require.NoError(t, s.deps.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM payments WHERE job_id = $1`, "j-"+t.Name()).Scan(&n))
		require.Equal(t, 1, n, "a replay creates no second payment")
	})
}

// TestCreatePaymentRetryAfterLostAnswerCreatesNoSecondPayment: when the
// stored answer of a first attempt is lost (the idempotency row vanished),
// the retry with the same key finds the same payment instead of creating a
// second one (which would prompt the customer twice).
func TestCreatePaymentRetryAfterLostAnswerCreatesNoSecondPayment(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	body := map[string]any{"job_id": "job-lost", "customer_id": "c-1", "phone": "0712345678", "amount": 100}
	first := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "lost-1"))
	require.Equal(t, http.StatusAccepted, first.Code, "%s", first.Body)

	_, err := s.deps.Pool.Exec(context.Background(), `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	again := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "lost-1"))
	require.Equal(t, http.StatusAccepted, again.Code, "%s", again.Body)
	require.Equal(t, first.JSON(t)["id"], again.JSON(t)["id"])

	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM payments WHERE job_id = 'job-lost'`).Scan(&n))
	require.Equal(t, 1, n)

	other := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth("Idempotency-Key", "lost-2"))
	require.Equal(t, http.StatusAccepted, other.Code)
	require.NotEqual(t, first.JSON(t)["id"], other.JSON(t)["id"], "another key is another payment")
}

func TestGetPaymentMalformedIDIs404(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, id := range []string{"not-a-uuid", strings.Repeat("9", 300), "00000000-0000-0000-0000-00000000000g"} {
		r := s.do(t, http.MethodGet, "/v1/payments/"+id, nil, map[string]string{"X-API-Key": testKey})
		require.Equal(t, http.StatusNotFound, r.Code, id)
	}
}
