package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/config"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

func newAllCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "all",
		Short: "Run everything in one process: API, workers, scheduler and the Daraja/Expo simulators (development)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAll(cmd.Context(), e)
		},
	}
}

// runAll creates and migrates the database, starts the simulators the
// configuration leaves to us, then runs API, workers and scheduler together.
// Shutdown order: HTTP stops accepting and drains, the scheduler stops, the
// workers drain and flush the outbox, then connections close.
func runAll(ctx context.Context, e env) error {
	cfg, log, err := e.load()
	if err != nil {
		return err
	}
	log = logging.WithRole(log, "all")
	if len(cfg.Auth.APIKeys) == 0 {
		key := devKey()
		cfg.Auth.APIKeys = config.APIKeys{{Name: "dev", Secret: config.Secret(key)}}
		fmt.Fprintf(e.stdout, "FUNDIGO_API_KEYS is unset; development service key for this run:\n  X-API-Key: %s\n"+
			"  (a stable one: FUNDIGO_API_KEYS=dev:<16+ characters>)\n", key)
	}
	if err := ensureDatabase(ctx, cfg.Database.URL.Reveal()); err != nil {
		return err
	}
	if err := withMigrator(ctx, cfg.Database.URL.Reveal(), env{stderr: io.Discard}, func(ctx context.Context, m *store.Migrator) error {
		return m.Up(ctx)
	}); err != nil {
		return err
	}

	// `all` is the development mode: simulators default on.
	sims := &simulators{}
	if cfg.Ops.SimulatorsOr(true) {
		if sims, err = startSimulators(ctx, &cfg, log); err != nil {
			return err
		}
		sims.describe(e.stdout, cfg)
	} else if err := cfg.RequireExternalAPIs(); err != nil {
		return fmt.Errorf("all: %w", err)
	}
	defer sims.close()

	in, err := openInfra(ctx, cfg, log, "all")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := in.shutdownCtx()
		defer cancel()
		in.close(sctx)
	}()

	w, err := buildWorkers(in)
	if err != nil {
		return err
	}
	s, err := newScheduler(in, w.HasHandler)
	if err != nil {
		return err
	}
	in.registerWorkerCollectors(w)

	// One admin listener for the whole process.
	return in.runWithAdmin(ctx, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return runAPI(gctx, in) })
		g.Go(func() error { return w.Run(gctx) })
		g.Go(func() error { return s.Run(gctx) })
		return g.Wait()
	})
}

func devKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "dev-" + hex.EncodeToString(b)
}
