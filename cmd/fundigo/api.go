package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/spf13/cobra"

	"fundigo/api"
)

func newAPICmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Serve the REST API and the M-Pesa webhooks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withInfra(cmd.Context(), "api", false, func(in *infra) error {
				return in.runWithAdmin(cmd.Context(), func(ctx context.Context) error { return runAPI(ctx, in) })
			})
		},
	}
}

// apiDeps builds the API's dependencies from infra.
func apiDeps(in *infra) api.Deps {
	return api.Deps{
		Log:       in.log.With().Str("component", "api").Logger(),
		Config:    in.cfg,
		Pool:      in.pool,
		Redis:     in.redis,
		Tasks:     in.tasks,
		Inspector: in.insp,
		Queues:    in.queues,
		Publisher: in.pub,
		Readiness: in.ready,
		Registry:  in.registry,
		Errors:    in.errors,
	}
}

// runAPI serves HTTP until ctx is cancelled, then stops accepting, lets
// in-flight requests finish within the shutdown timeout, and returns.
func runAPI(ctx context.Context, in *infra) error {
	hub, stopHub, err := startLiveHub(ctx, in)
	if err != nil {
		return err
	}
	defer stopHub()
	deps := apiDeps(in)
	deps.Live = hub
	e, err := api.NewServer(deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", in.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", in.cfg.HTTP.Addr, err)
	}
	e.Listener = ln
	in.log.Info().Str("addr", ln.Addr().String()).Msg("api listening")
	errc := make(chan error, 1)
	go func() { errc <- e.Server.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	stopHub() // open streams are told to reconnect elsewhere before Shutdown waits for them
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.ShutdownTimeout)
	defer cancel()
	if err := e.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	in.log.Info().Msg("api stopped")
	return nil
}
