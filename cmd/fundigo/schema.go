package main

import (
	"context"
	"fmt"
	"time"

	"fundigo/pkg/store"
)

// schemaRoles are the long-running roles that need every migration of this
// build applied; they refuse to start on an older schema (`all` migrates
// itself first; the ops CLIs only read what exists).
var schemaRoles = map[string]bool{"api": true, "worker": true, "scheduler": true}

// requireSchema checks the schema for a long-running role. A database that
// cannot be reached is not an error here: the role starts and /readyz reports
// it, as for every other dependency.
func requireSchema(ctx context.Context, in *infra, name string) error {
	if !schemaRoles[name] {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := in.pool.Ping(cctx); err != nil {
		in.log.Warn().Err(err).Msg("postgres unreachable at start; schema version not checked")
		return nil
	}
	if err := store.CheckSchema(cctx, in.pool); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
