// Package storetest gives each test its own migrated PostgreSQL schema, so
// tests run in parallel against the real server without seeing each other's
// rows. Import it only from _test.go files.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/store"
)

// URL is the database the test schemas live in: FUNDIGO_TEST_DATABASE_URL or
// the local `test` database.
func URL() string {
	if u := os.Getenv("FUNDIGO_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// NewPool creates a fresh schema, applies every migration to it and returns a
// pool whose search_path points there. The schema is dropped in Cleanup.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewPoolURL(t)
	return pool
}

// NewPoolURL is NewPool that also returns a connection URL selecting the same
// schema, for code under test that opens its own pool (e.g. run()).
func NewPoolURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	schema := "t_" + randomHex(8)
	admin, err := pgxpool.New(ctx, URL())
	if err != nil {
		t.Fatalf("storetest: connect: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := pgxpool.New(ctx, URL())
		if err != nil {
			t.Errorf("storetest: connect for cleanup: %v", err)
			return
		}
		defer a.Close()
		if _, err := a.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	url := withSearchPath(URL(), schema)
	pool, err := store.Open(ctx, url, store.PoolConfig{MaxConns: 8})
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(pool.Close)
	m, err := store.NewMigrator(pool, nil)
	if err != nil {
		t.Fatalf("storetest: migrator: %v", err)
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		t.Fatalf("storetest: migrate: %v", err)
	}
	return pool, url
}

func withSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Schemas lists the schemas whose name matches the SQL LIKE pattern, so a
// test can check that code under test left none of its scratch schemas behind.
func Schemas(t testing.TB, like string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, URL())
	if err != nil {
		t.Fatalf("storetest: connect: %v", err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, like)
	if err != nil {
		t.Fatalf("storetest: list schemas: %v", err)
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("storetest: scan schema: %v", err)
		}
		set[n] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("storetest: list schemas: %v", err)
	}
	return set
}

// RequireNoNewSchemas fails the test when schemas matching like that were not
// in before still exist. Other packages' tests may hold a scratch schema of
// the same shape for a while, so it waits up to a minute for them to go: a
// schema that was really leaked stays and fails the test.
func RequireNoNewSchemas(t testing.TB, like string, before map[string]bool) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		left = left[:0]
		for s := range Schemas(t, like) {
			if !before[s] {
				left = append(left, s)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("storetest: scratch schema(s) left behind: %v", left)
		}
	}
}

// TuplesRead returns how many rows and index entries table has had read so
// far (sequential scans, index scans and heap fetches), as counted by
// PostgreSQL's statistics. conn must be the one connection whose work is
// measured: it flushes that backend's counters first. Tests compare it before
// and after a statement to show what a plan reads.
func TuplesRead(t testing.TB, conn *pgxpool.Conn, table string) int64 {
	t.Helper()
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatalf("flush statistics: %v", err)
	}
	var n int64
	if err := conn.QueryRow(ctx, `
		SELECT coalesce(t.idx_tup_fetch, 0) + coalesce(t.seq_tup_read, 0) + coalesce(sum(i.idx_tup_read), 0)
		FROM pg_stat_user_tables t LEFT JOIN pg_stat_user_indexes i USING (relid)
		WHERE t.relid = $1::regclass
		GROUP BY t.idx_tup_fetch, t.seq_tup_read`, table).Scan(&n); err != nil {
		t.Fatalf("tuples read from %s: %v", table, err)
	}
	return n
}
