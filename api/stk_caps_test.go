package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
)

// 2,000 POST /v1/payments for one phone from one service key, each for a
// different customer (so the per-customer throttle never applies): at the
// defaults, only FUNDIGO_STK_MAX_OPEN_PER_PHONE (3) payments are created and
// pushed (3 STK push tasks), the rest get 429 with Retry-After; another
// phone is unaffected.
func TestSTKOpenCapPerPhoneAtTheAPI(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	const total = 2000
	var accepted, limited atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				body := fmt.Sprintf(`{"job_id":"job-%d","customer_id":"cust-%d","phone":"0712345678","amount":100}`, i, i)
				r := s.do(t, http.MethodPost, "/v1/payments", body, serviceAuth())
				switch r.Code {
				case http.StatusAccepted:
					accepted.Add(1)
				case http.StatusTooManyRequests:
					if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
						t.Errorf("429 without Retry-After: %v", r.Header)
						return
					}
					limited.Add(1)
				default:
					t.Errorf("payment %d: %d %s", i, r.Code, r.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 3, accepted.Load())
	require.EqualValues(t, total-3, limited.Load())

	pushes, err := s.deps.Inspector.ListPendingTasks(s.deps.Queues.Critical)
	require.NoError(t, err)
	require.Len(t, pushes, 3, "only the capped number of STK pushes is queued for Daraja")

	r := s.do(t, http.MethodPost, "/v1/payments",
		`{"job_id":"job-other","customer_id":"cust-other","phone":"0712345679","amount":100}`, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, "%s", r.Body)
}

// The push task of a payment is readable by its customer (customer_id is the
// Django user id) and by services, never by another user (issue 18 row 3:
// user 999 read another customer's payment task).
func TestPaymentTaskReadableByItsCustomerOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodPost, "/v1/payments",
		`{"job_id":"job-1","customer_id":"42","phone":"0712345678","amount":100}`, serviceAuth("Idempotency-Key", "k-1"))
	require.Equal(t, http.StatusAccepted, r.Code, "%s", r.Body)
	id := r.JSON(t)["id"].(string)
	for user, want := range map[int]int{42: http.StatusOK, 999: http.StatusNotFound} {
		r := s.do(t, http.MethodGet, "/v1/tasks/"+id, nil,
			map[string]string{"Authorization": userToken(t, jwt.MapClaims{"user_id": user})})
		require.Equal(t, want, r.Code, "user %d: %s", user, r.Body)
	}
	r = s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code)
	require.Equal(t, tasks.TypeSTKPush, r.JSON(t)["type"])
}
