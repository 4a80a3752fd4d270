package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/migrations"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// emptySchemaURL creates an empty schema (dropped at the end) and returns a
// database URL selecting it.
func emptySchemaURL(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_mig_" + hex.EncodeToString(b)
	admin, err := pgxpool.New(ctx, storetest.URL())
	require.NoError(t, err)
	defer admin.Close()
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		a, err := pgxpool.New(context.Background(), storetest.URL())
		require.NoError(t, err)
		defer a.Close()
		_, err = a.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(t, err)
	})
	sep := "?"
	if strings.Contains(storetest.URL(), "?") {
		sep = "&"
	}
	return storetest.URL() + sep + "search_path=" + schema
}

// Two `fundigo migrate up` started at once against one fresh schema both
// succeed, and every migration is applied exactly once: goose's session
// advisory lock serialises them.
func TestMigrateUpConcurrentRunsSerialise(t *testing.T) {
	t.Parallel()
	dbURL := emptySchemaURL(t)
	getenv := func(k string) string {
		if k == "FUNDIGO_DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const runs = 2
	start := make(chan struct{})
	errs := make(chan error, runs)
	logs := make([]*lockedBuffer, runs)
	for i := range runs {
		logs[i] = &lockedBuffer{}
		go func() {
			<-start
			errs <- run(ctx, []string{"migrate", "up"}, getenv, logs[i], logs[i])
		}()
	}
	close(start)
	for i := range runs {
		require.NoError(t, <-errs, "run %d\n%s\n%s", i, logs[0].String(), logs[1].String())
	}

	entries, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	var rows, distinct int
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&rows, &distinct))
	require.Equal(t, len(entries), distinct, "every migration applied")
	require.Equal(t, distinct, rows, "no migration applied twice")
	require.NoError(t, store.CheckSchema(ctx, pool))
}

// A role refuses to start against a schema that lacks a migration it needs,
// and says what to run.
func TestRoleRefusesAnOlderSchema(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, getenv("FUNDIGO_DATABASE_URL"))
	require.NoError(t, err)
	defer pool.Close()
	// Pretend the newest migration has not run here.
	_, err = pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`)
	require.NoError(t, err)

	for _, role := range []string{"api", "scheduler"} {
		logs := &lockedBuffer{}
		err := run(ctx, []string{role}, getenv, logs, logs)
		require.ErrorIs(t, err, store.ErrSchemaBehind, role)
		require.Contains(t, err.Error(), "fundigo migrate up", role)
	}
}
