package bench

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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/expo/exposim"
	"fundigo/pkg/store"
)

// Starter starts a whole FundiGO in-process (`fundigo all` wiring without
// the scheduler: API serving on ln, workers, outbox relay, the simulators
// the configuration leaves to us) over cfg, which the bench has already
// isolated: a migrated scratch schema, scratch queue and key prefixes, a
// scratch events exchange. cmd provides it; the returned System's Stop
// stops everything it started.
type Starter func(ctx context.Context, ln net.Listener, cfg config.Config, log zerolog.Logger) (*System, error)

// System is a running in-process FundiGO as a Starter returns it.
type System struct {
	// Config is the effective configuration (simulators may have rewritten
	// their base URLs).
	Config config.Config
	// Routes are the API's routes.
	Routes []*echo.Route
	// Pool is the system's database pool (its scratch schema).
	Pool *pgxpool.Pool
	// PushSim is the in-process push simulator, nil when a real one is configured.
	PushSim *exposim.Sim
	// AsynqQueues and AMQPQueues are the queues it declared, removed after Stop.
	AsynqQueues, AMQPQueues []string
	// Done is closed (after an error is sent, if any) when the workers exit.
	Done <-chan error
	// Stop stops serving, drains the workers and closes the connections.
	Stop func()
}

// system is the system under load: either one already running (--target)
// or a whole FundiGO started in-process by the Starter, isolated like a
// test, and removed again by stop.
type system struct {
	base   string // http://127.0.0.1:port
	apiKey string
	// in is the in-process system, nil for --target.
	in   *System
	cfg  config.Config // the in-process system's effective configuration
	stop func()
}

// hasRoute reports whether the in-process API serves method path (an Echo
// pattern such as /v1/payments). A remote target is assumed to.
func (s *system) hasRoute(method, path string) bool {
	if s.in == nil {
		return true
	}
	return slices.ContainsFunc(s.in.Routes, func(r *echo.Route) bool { return r.Method == method && r.Path == path })
}

// system returns the system to load: the --target, or a fresh in-process
// one. tune adjusts the in-process configuration (simulator delays, rate
// limits) before anything starts.
func (b *benchRun) system(ctx context.Context, tune func(*config.Config)) (*system, error) {
	if b.flags.Target != "" {
		if b.flags.APIKey == "" {
			return nil, errors.New("--target needs --api-key (a service key of that system)")
		}
		return &system{base: strings.TrimRight(b.flags.Target, "/"), apiKey: b.flags.APIKey, stop: func() {}}, nil
	}
	return b.startSystem(ctx, tune)
}

func (b *benchRun) startSystem(ctx context.Context, tune func(*config.Config)) (_ *system, err error) {
	id := kit.ScratchName("bench")
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
	// Throughput runs send thousands of requests a second with one key, one
	// customer and one phone: every abuse limit (rates and STK caps) is off.
	cfg.Throttle = config.Throttle{RedisBudget: cfg.Throttle.RedisBudget}
	if len(cfg.Payments.AllowedCIDRs) == 0 {
		// The simulator's and the bench's callbacks come from loopback: trusted
		// like Daraja's addresses in production, so a success is believed
		// without an STK Query round trip.
		cfg.Payments.AllowedCIDRs = []string{"127.0.0.1/32"}
	}
	if tune != nil {
		tune(&cfg)
	}

	dbURL, dropSchema, err := scratchSchema(ctx, cfg.Database.URL.Reveal(), id)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, dropSchema)
	cfg.Database.URL = config.Secret(dbURL)
	if err := migrateUp(ctx, dbURL); err != nil {
		return nil, err
	}

	in, err := b.start(ctx, ln, cfg, b.log)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { removeBrokerState(in.Config, b.redisOpt, in.AsynqQueues, in.AMQPQueues) })
	cleanups = append(cleanups, in.Stop)

	s := &system{base: "http://" + cfg.HTTP.Addr, apiKey: cfg.Auth.APIKeys[0].Secret.Reveal(), in: in, cfg: in.Config, stop: cleanup}
	if err := waitReady(ctx, s.base, in.Done); err != nil {
		return nil, err
	}
	return s, nil
}

// migrateUp applies every migration to the database (schema) of dbURL.
func migrateUp(ctx context.Context, dbURL string) error {
	pool, err := store.Open(ctx, dbURL, store.PoolConfig{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool, io.Discard)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Up(ctx)
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
