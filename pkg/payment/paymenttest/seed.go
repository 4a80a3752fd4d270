// Package paymenttest holds fixtures for tests and benchmarks of the payment
// domain at scale. Import it only from _test.go files.
package paymenttest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Seed inserts n payments straight into the payments table of pool's schema
// (a fixture, not the domain's create path), then ANALYZEs it, and returns up
// to sample of their ids spread over the table. The rows are inserted in id
// order with job ids in the same order, so building a million-row table costs
// sequential index appends instead of a million random B-tree inserts; the
// ids themselves are random version-4 uuids, as payment.Create makes them.
func Seed(tb testing.TB, pool *pgxpool.Pool, n, sample int) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		tb.Fatalf("paymenttest: acquire: %v", err)
	}
	defer conn.Release()
	// One session: the settings below apply to the INSERT.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{sql: `SET synchronous_commit = off`},
		{sql: `SET work_mem = '256MB'`},
		{sql: `INSERT INTO payments (id, job_id, customer_id, phone, amount, status, created_at, updated_at)
		 SELECT id, 'seed-' || lpad(row_number() OVER (ORDER BY id)::text, 9, '0'), 'seed-customer-' || (g % 1000),
		        '254700000001', 10 + g % 5000, 'paid', now() - interval '1 day', now() - interval '1 day'
		 FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, $1::int) g) s ORDER BY id`, args: []any{n}},
		{sql: `ANALYZE payments`},
		{sql: `RESET synchronous_commit`},
		{sql: `RESET work_mem`},
	} {
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			tb.Fatalf("paymenttest: seed %d payments: %v", n, err)
		}
	}
	if sample <= 0 {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT id::text FROM payments TABLESAMPLE SYSTEM (1) LIMIT $1`, sample)
	if err != nil {
		tb.Fatalf("paymenttest: sample ids: %v", err)
	}
	defer rows.Close()
	ids := make([]string, 0, sample)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			tb.Fatalf("paymenttest: scan id: %v", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("paymenttest: sample ids: %v", err)
	}
	return ids
}
