package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
)

func capsDeps(t *testing.T, caps payment.Caps, now func() time.Time) payment.Deps {
	t.Helper()
	return payment.Deps{Log: zerolog.Nop(), Pool: storetest.NewPool(t),
		Config: config.Payments{MaxAmount: 250000}, Caps: caps, Now: now}
}

func createFor(ctx context.Context, d payment.Deps, id, customer, phone string) (payment.Payment, error) {
	amount := int64(10)
	return payment.Create(ctx, d, id, payment.CreateRequest{
		JobID: "job-" + id, CustomerID: customer, Phone: phone, Amount: &amount})
}

// At most MaxOpen payments await one phone at once, however many are asked
// for concurrently and by whichever customer; the rest are refused with a
// *CapError and leave nothing behind. Another phone is unaffected.
func TestOpenCapPerPhoneUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := capsDeps(t, payment.Caps{MaxOpen: 3, MaxPerHour: 10}, nil)
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		accepted, capped int
	)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := createFor(ctx, d, uuid.NewString(), fmt.Sprintf("cust-%d", i), "0712345678")
			mu.Lock()
			defer mu.Unlock()
			var ce *payment.CapError
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &ce) && ce.Cap == "open" && ce.RetryAfter > 0 && errors.Is(err, payment.ErrPhoneCapped):
				capped++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 3, accepted)
	require.Equal(t, 47, capped)
	var n int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE phone = '254712345678'`).Scan(&n))
	require.Equal(t, 3, n)

	_, err := createFor(ctx, d, uuid.NewString(), "cust-x", "0712345679")
	require.NoError(t, err, "another phone")
}

// A payment that ended frees its open slot, but counts for the hourly cap;
// the hourly refusal says when the oldest push of the hour ages out.
func TestHourlyCapPerPhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := capsDeps(t, payment.Caps{MaxOpen: 3, MaxPerHour: 10}, clock)
	for i := range 10 {
		now = now.Add(time.Minute)
		p, err := createFor(ctx, d, uuid.NewString(), "cust", "254712345678")
		require.NoError(t, err, "payment %d", i+1)
		_, err = d.Pool.Exec(ctx, `UPDATE payments SET status = 'failed' WHERE id = $1`, p.ID)
		require.NoError(t, err)
	}
	_, err := createFor(ctx, d, uuid.NewString(), "cust", "254712345678")
	var ce *payment.CapError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "hourly", ce.Cap)
	require.Equal(t, 51*time.Minute, ce.RetryAfter, "the first of the hour (10:01) ages out at 11:01")

	now = now.Add(52 * time.Minute) // 11:02: the 10:01 push is out of the hour
	_, err = createFor(ctx, d, uuid.NewString(), "cust", "254712345678")
	require.NoError(t, err)
}

// A retry of an existing payment (same id) gets that payment back even when
// the phone is at its cap; with caps off nothing is counted.
func TestCapsNeverRefuseARetryAndZeroDisables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := capsDeps(t, payment.Caps{MaxOpen: 1}, nil)
	id := uuid.NewString()
	first, err := createFor(ctx, d, id, "cust", "254712345678")
	require.NoError(t, err)
	again, err := createFor(ctx, d, id, "cust", "254712345678")
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	_, err = createFor(ctx, d, uuid.NewString(), "cust", "254712345678")
	require.ErrorIs(t, err, payment.ErrPhoneCapped)

	off := capsDeps(t, payment.Caps{}, nil)
	for range 15 {
		_, err := createFor(ctx, off, uuid.NewString(), "cust", "254712345678")
		require.NoError(t, err)
	}
}
