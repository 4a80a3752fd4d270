package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/payment"
	"fundigo/pkg/store"
)

// insert creates the fixture's payments as awaiting_callback, as if each
// STK push had been acknowledged, in transactions of 500 on 4 connections.
func (f callbackFixture) insert(ctx context.Context, pool *pgxpool.Pool) error {
	const chunk = 500
	now := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for lo := 0; lo < f.n; lo += chunk {
		hi := min(lo+chunk, f.n)
		g.Go(func() error {
			return store.WithTx(gctx, pool, func(tx pgx.Tx) error {
				ps := payment.NewStore(tx)
				for i := lo; i < hi; i++ {
					id := uuid.NewString()
					if _, err := ps.Create(gctx, payment.New{ID: id, JobID: fmt.Sprintf("bench-%s-%d", f.run, i),
						CustomerID: f.customer, Phone: callbackPhone, Amount: callbackAmount, Description: "bench", CreatedAt: now}); err != nil {
						return err
					}
					if _, err := ps.MarkAwaiting(gctx, id, fmt.Sprintf("29115-bench-%d", i), f.checkoutID(i), false, now); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("insert %d fixture payments: %w", f.n, err)
	}
	return nil
}

// open counts the fixture's payments still waiting for their callback.
func (f callbackFixture) open(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM payments
		WHERE status IN ('pending', 'awaiting_callback') AND customer_id = $1`, f.customer).Scan(&n)
	return n, err
}

// statuses counts the fixture's payments by status.
func (f callbackFixture) statuses(ctx context.Context, pool *pgxpool.Pool) (map[string]int, error) {
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM payments WHERE customer_id = $1 GROUP BY status`, f.customer)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var st string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error { out[st] = n; return nil })
	return out, err
}

// waitPaid polls until no fixture payment is open any more, or none was
// settled for stall; it returns how many are still open.
func (f callbackFixture) waitPaid(ctx context.Context, pool *pgxpool.Pool, stall time.Duration) (int, error) {
	last, lastChange := -1, time.Now()
	for {
		open, err := f.open(ctx, pool)
		if err != nil {
			return f.n, fmt.Errorf("count open fixture payments: %w", err)
		}
		if open == 0 {
			return 0, nil
		}
		if open != last {
			last, lastChange = open, time.Now()
		} else if time.Since(lastChange) > stall {
			return open, fmt.Errorf("no payment settled for %s; %d of %d still awaiting their callback", stall, open, f.n)
		}
		select {
		case <-ctx.Done():
			return open, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}
