// Package admin is the admin listener every role serves apart from the
// public API (FUNDIGO_ADMIN_ADDR): /metrics, /healthz, /readyz and
// /debug/pprof, plus operator UIs mounted by cmd. It must not be exposed
// publicly: pprof and the metrics are for the cluster's operators.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"fundigo/pkg/health"
)

// Options configures the admin handler.
type Options struct {
	// Registry is scraped at /metrics (promhttp compresses on its own when
	// the scraper asks for gzip; nothing wraps it again).
	Registry *prometheus.Registry
	// Readiness answers /readyz.
	Readiness http.Handler
	// Mounts are extra handlers by path prefix (e.g. "/asynqmon/").
	Mounts map[string]http.Handler
}

// Handler builds the admin mux.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(o.Registry,
		promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry, MaxRequestsInFlight: 4, Timeout: 20 * time.Second})))
	mux.HandleFunc("GET /healthz", health.Healthz)
	if o.Readiness != nil {
		mux.Handle("GET /readyz", o.Readiness)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	for p, h := range o.Mounts {
		mux.Handle(p, h)
	}
	return mux
}

// Server is a started admin listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log zerolog.Logger
}

// Listen binds addr and returns the server, not yet serving.
func Listen(addr string, h http.Handler, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s (FUNDIGO_ADMIN_ADDR): %w", addr, err)
	}
	return &Server{
		ln:  ln,
		log: log,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute},
	}, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down within 5 s.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info().Str("addr", s.Addr()).Msg("admin listening")
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve admin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown admin: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
