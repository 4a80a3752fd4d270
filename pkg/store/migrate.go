package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"fundigo/migrations"
)

// Migrator applies the embedded migrations with goose.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// NewMigrator builds a goose provider over the pool (the pool's search_path
// decides the schema, which is how tests get one schema each).
func NewMigrator(pool *pgxpool.Pool, logw io.Writer) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if logw != nil {
		opts = append(opts, goose.WithVerbose(true), goose.WithLogger(log.New(logw, "", 0)))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, opts...)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("new goose provider: %w", err)
	}
	return &Migrator{db: db, provider: p}, nil
}

// Up applies every pending migration. It refuses to run (ErrMigrationChanged)
// when a file already applied to this database has been edited since.
func (m *Migrator) Up(ctx context.Context) (err error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	if err := m.verifyChecksums(ctx); err != nil {
		return err
	}
	if _, err := m.provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return m.verifyChecksums(ctx)
}

// Down rolls back the newest applied migration (and forgets its checksum,
// so the file may be edited before it is applied again).
func (m *Migrator) Down(ctx context.Context) (err error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	if _, err := m.provider.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return m.verifyChecksums(ctx)
}

// Status writes one line per migration: version, state and source.
func (m *Migrator) Status(ctx context.Context, w io.Writer) error {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	for _, s := range st {
		applied := "pending"
		if s.State == goose.StateApplied {
			applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(w, "%05d  %-28s  %s\n", s.Source.Version, applied, s.Source.Path)
	}
	return nil
}

// Close releases the database handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }
