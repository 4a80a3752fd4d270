package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"fundigo/api"
	"fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/store"
)

// benchSystem is the system under test: either one already running
// (--target) or a whole FundiGO (API, workers, outbox relay, simulators)
// started in-process on a random loopback port, isolated like a test — a
// scratch schema, Asynq queue and Redis key prefixes, an AMQP exchange and
// queue prefix — and removed again by stop.
type benchSystem struct {
	base   string // http://127.0.0.1:port
	apiKey string
	// In-process only: the effective configuration (simulators rewrote
	// their base URLs), the routes, the simulators (extra), and the pool.
	cfg    config.Config
	routes []*echo.Route
	extra  map[string]any
	in     *infra
	stop   func()
}

// hasRoute reports whether the in-process API serves method path (an Echo
// pattern such as /v1/payments). A remote target is assumed to.
func (s *benchSystem) hasRoute(method, path string) bool {
	if s.routes == nil {
		return true
	}
	return slices.ContainsFunc(s.routes, func(r *echo.Route) bool { return r.Method == method && r.Path == path })
}

// system returns the system to load: the --target, or a fresh in-process
// one. tune adjusts the in-process configuration (simulator delays, rate
// limits) before anything starts.
func (b *benchRun) system(ctx context.Context, tune func(*config.Config)) (*benchSystem, error) {
	if b.flags.target != "" {
		if b.flags.apiKey == "" {
			return nil, errors.New("--target needs --api-key (a service key of that system)")
		}
		return &benchSystem{base: strings.TrimRight(b.flags.target, "/"), apiKey: b.flags.apiKey, stop: func() {}}, nil
	}
	return startBenchSystem(ctx, b, tune)
}

func startBenchSystem(ctx context.Context, b *benchRun, tune func(*config.Config)) (_ *benchSystem, err error) {
	id := bench.ScratchName("bench")
	cfg := b.cfg
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	cleanups = append(cleanups, func() { _ = ln.Close() })
	cfg.HTTP.Addr = ln.Addr().String()
	cfg.HTTP.PublicURL = "http://" + cfg.HTTP.Addr
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	cfg.Auth.APIKeys = config.APIKeys{{Name: "bench", Secret: config.Secret("bench-" + hex.EncodeToString(key))}}
	cfg.Tasks.QueuePrefix = id + ":"
	cfg.Redis.KeyPrefix = id + ":"
	cfg.AMQP.Exchange = id + ".events"
	cfg.AMQP.QueuePrefix = id + "."
	cfg.Celery.Enabled = false // its queues are the Django app's, never a scratch run's
	if tune != nil {
		tune(&cfg)
	}

	dbURL, dropSchema, err := scratchSchema(ctx, cfg.Database.URL.Reveal(), id)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, dropSchema)
	cfg.Database.URL = config.Secret(dbURL)
	if err := withMigrator(ctx, dbURL, env{stderr: io.Discard}, func(ctx context.Context, m *store.Migrator) error {
		return m.Up(ctx)
	}); err != nil {
		return nil, err
	}

	sims, err := startSimulators(ctx, &cfg, b.log)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, sims.close)
	in, err := openInfra(cfg, b.log, "bench")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() {
		sctx, cancel := in.shutdownCtx()
		defer cancel()
		in.close(sctx)
	})
	w, err := buildWorkers(in, sims.extra)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { removeBenchBrokerState(cfg, in, w.ConsumerQueues()) })

	e := api.NewServer(apiDeps(in, sims.extra))
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	workersDone := make(chan error, 1)
	go func() { workersDone <- w.Run(wctx) }()
	cleanups = append(cleanups, func() { stopWorkers(); <-workersDone })
	go func() { _ = e.Server.Serve(ln) }()
	cleanups = append(cleanups, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Server.Shutdown(sctx)
	})

	s := &benchSystem{base: "http://" + cfg.HTTP.Addr, apiKey: cfg.Auth.APIKeys[0].Secret.Reveal(), cfg: cfg,
		routes: e.Routes(), extra: sims.extra, in: in, stop: cleanup}
	if err := waitReady(ctx, s.base, workersDone); err != nil {
		return nil, err
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200, the workers exit, or 60 s pass.
func waitReady(ctx context.Context, base string, workersDone <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-workersDone:
			return fmt.Errorf("in-process workers exited: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("in-process system not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
