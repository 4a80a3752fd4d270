package api

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// TestPaymentKeyReusedAfterRetentionConflicts is issue 12 row 5: once the
// idempotency record is gone (retention), the same key for a different
// payment must not answer the old, unrelated payment; a retry of the same
// request still finds its payment.
func TestPaymentKeyReusedAfterRetentionConflicts(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	ctx := context.Background()
	jobA := map[string]any{"job_id": "job-A", "customer_id": "c", "phone": "0712345678", "amount": 10}
	first := s.do(t, http.MethodPost, "/v1/payments", jobA, serviceAuth("Idempotency-Key", "K"))
	require.Equal(t, http.StatusAccepted, first.Code, string(first.Body))
	_, err := s.deps.Pool.Exec(ctx, `DELETE FROM idempotency_keys`) // as retention does
	require.NoError(t, err)

	jobB := map[string]any{"job_id": "job-B", "customer_id": "c", "phone": "0799000111", "amount": 2000}
	r := s.do(t, http.MethodPost, "/v1/payments", jobB, serviceAuth("Idempotency-Key", "K"))
	require.Equal(t, http.StatusConflict, r.Code, string(r.Body))
	require.NotContains(t, string(r.Body), "job-A")
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM payments`).Scan(&n))
	require.Equal(t, 1, n)

	// The same request again (a retry whose answer was lost) still maps to it.
	_, err = s.deps.Pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	again := s.do(t, http.MethodPost, "/v1/payments", jobA, serviceAuth("Idempotency-Key", "K"))
	require.Equal(t, http.StatusAccepted, again.Code, string(again.Body))
	require.Equal(t, first.JSON(t)["id"], again.JSON(t)["id"])
}

// TestNotificationKeyReusedAfterRetentionConflicts is issue 12 row 5 for
// notifications: a new notification under a reused key was silently dropped
// (202 with the old id).
func TestNotificationKeyReusedAfterRetentionConflicts(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	ctx := context.Background()
	first := map[string]any{"user_ids": []string{"u1", "u2"}, "title": "Hi", "body": "first", "data": map[string]any{"n": 1.5}}
	r := s.do(t, http.MethodPost, "/v1/notifications", first, serviceAuth("Idempotency-Key", "N"))
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	id := r.JSON(t)["id"]
	_, err := s.deps.Pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)

	second := map[string]any{"user_ids": []string{"u3"}, "title": "Other", "body": "second"}
	r = s.do(t, http.MethodPost, "/v1/notifications", second, serviceAuth("Idempotency-Key", "N"))
	require.Equal(t, http.StatusConflict, r.Code, string(r.Body))

	// The same request again still maps to the first notification, whatever
	// the JSON key order.
	_, err = s.deps.Pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	r = s.do(t, http.MethodPost, "/v1/notifications",
		`{"data":{"n":1.5},"body":"first","title":"Hi","user_ids":["u1","u2"]}`, serviceAuth("Idempotency-Key", "N"))
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	require.Equal(t, id, r.JSON(t)["id"])
}

// TestIdempotencyClaimHasAnOwner is issue 12 row 5: a request still running
// past the claim's lease is not run a second time by a retry with the same
// key (its owner keeps the claim alive), and only the owner's answer is
// stored.
func TestIdempotencyClaimHasAnOwner(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	// Long enough that a renewal (every lease/3) is not missed twice in a
	// row on a loaded CI machine: at 300 ms one run lost its claim there.
	const lease = time.Second
	var runs atomic.Int32
	release := make(chan struct{})
	s.e.POST("/test/slow", func(c echo.Context) error {
		n := runs.Add(1)
		if n == 1 {
			<-release
		}
		return c.JSON(http.StatusCreated, map[string]any{"run": n})
	}, idempotentWithLease(s.deps.Pool, lease))

	var wg sync.WaitGroup
	var first testResponse
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = s.do(t, http.MethodPost, "/test/slow", `{"x":1}`, map[string]string{"Idempotency-Key": "slow"})
	}()
	require.Eventually(t, func() bool { return runs.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

	// Well past the lease, the first request is still running: a retry is
	// told to wait, never run.
	tick := time.NewTicker(lease / 3)
	defer tick.Stop()
	for range 12 { // retries spread over four leases
		<-tick.C
		r := s.do(t, http.MethodPost, "/test/slow", `{"x":1}`, map[string]string{"Idempotency-Key": "slow"})
		require.Equal(t, http.StatusConflict, r.Code, string(r.Body))
		require.Equal(t, "1", r.Header.Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	require.Equal(t, http.StatusCreated, first.Code)
	require.Equal(t, int32(1), runs.Load(), "the slow request ran once")

	replay := s.do(t, http.MethodPost, "/test/slow", `{"x":1}`, map[string]string{"Idempotency-Key": "slow"})
	require.Equal(t, http.StatusCreated, replay.Code)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, `{"run":1}`, string(replay.Body))
}
