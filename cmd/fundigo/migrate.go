package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"fundigo/pkg/store"
)

func newMigrateCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply (up), roll back one (down) or list (status) the database migrations",
	}
	for _, sub := range []struct {
		use, short string
		fn         func(ctx context.Context, m *store.Migrator) error
	}{
		{"up", "Apply every pending migration", func(ctx context.Context, m *store.Migrator) error { return m.Up(ctx) }},
		{"down", "Roll back the newest migration", func(ctx context.Context, m *store.Migrator) error { return m.Down(ctx) }},
		{"status", "List migrations and whether each is applied", func(ctx context.Context, m *store.Migrator) error { return m.Status(ctx, e.stdout) }},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   sub.use,
			Short: sub.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, _, err := e.load()
				if err != nil {
					return err
				}
				return withMigrator(cmd.Context(), cfg.Database.URL.Reveal(), e, sub.fn)
			},
		})
	}
	return cmd
}

func withMigrator(ctx context.Context, dbURL string, e env, fn func(context.Context, *store.Migrator) error) error {
	pool, err := store.Open(ctx, dbURL, store.PoolConfig{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool, e.stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(ctx, m)
}

// ensureDatabase creates the database named in dbURL when it does not exist,
// connecting to the server's `postgres` database to do so.
func ensureDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("parse FUNDIGO_DATABASE_URL: invalid")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to postgres to create database %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname=$1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil && !store.IsUniqueViolation(err, "") {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}
