package main

import (
	"context"
	"fmt"

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

// ensureDatabase creates the database named in dbURL when it does not exist.
func ensureDatabase(ctx context.Context, dbURL string) error { return store.EnsureDatabase(ctx, dbURL) }
