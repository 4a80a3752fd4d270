package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"

	"fundigo/migrations"
)

// ErrMigrationChanged: a migration file differs from the one applied to this
// database (edited after it ran). Goose would silently keep the old schema
// and the code would fail later with "column does not exist"; we stop at
// start-up instead with a message that says what to do.
var ErrMigrationChanged = errors.New("applied migration changed")

// checksums of the embedded migration files, by version.
func fileChecksums() (map[int64]string, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		v, err := strconv.ParseInt(strings.SplitN(name, "_", 2)[0], 10, 64)
		if err != nil {
			continue
		}
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out[v] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// verifyChecksums compares the recorded checksum of every applied migration
// with its embedded file, then records the checksums of migrations applied
// without one (new ones, or databases migrated before checksums existed).
func (m *Migrator) verifyChecksums(ctx context.Context) error {
	sums, err := fileChecksums()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	if _, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS fundigo_migration_checksums (
		version bigint PRIMARY KEY, sha256 text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create checksum table: %w", err)
	}
	status, err := m.provider.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	applied := map[int64]bool{}
	for _, st := range status {
		if st.State == goose.StateApplied {
			applied[st.Source.Version] = true
		}
	}
	rows, err := m.db.QueryContext(ctx, `SELECT version, sha256 FROM fundigo_migration_checksums`)
	if err != nil {
		return fmt.Errorf("read checksums: %w", err)
	}
	recorded := map[int64]string{}
	for rows.Next() {
		var v int64
		var s string
		if err := rows.Scan(&v, &s); err != nil {
			_ = rows.Close()
			return err
		}
		recorded[v] = s
	}
	if err := rows.Close(); err != nil {
		return err
	}
	var changed []string
	for v, s := range recorded {
		if want, ok := sums[v]; ok && want != s && applied[v] {
			changed = append(changed, fmt.Sprintf("%05d", v))
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: migration(s) %s differ from what this database ran; restore the file(s) or recreate the database (development: drop it, `fundigo all` recreates it)",
			ErrMigrationChanged, strings.Join(changed, ", "))
	}
	for v, s := range sums {
		if _, ok := recorded[v]; ok || !applied[v] {
			continue
		}
		if _, err := m.db.ExecContext(ctx, `INSERT INTO fundigo_migration_checksums (version, sha256) VALUES ($1, $2)
			ON CONFLICT (version) DO NOTHING`, v, s); err != nil {
			return fmt.Errorf("record checksum of %05d: %w", v, err)
		}
	}
	// A rolled-back migration may be edited and applied again.
	for v := range recorded {
		if !applied[v] {
			if _, err := m.db.ExecContext(ctx, `DELETE FROM fundigo_migration_checksums WHERE version = $1`, v); err != nil {
				return fmt.Errorf("forget checksum of %05d: %w", v, err)
			}
		}
	}
	return nil
}
