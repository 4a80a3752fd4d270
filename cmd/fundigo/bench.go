package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/api"
	"fundigo/bench"
	"fundigo/pkg/config"
)

// newBenchCmd is `fundigo bench <scenario>`: the scenarios live in package
// bench; this adapter parses flags and hands it the configuration and the
// `all` wiring (startBenchSystem) for in-process runs.
func newBenchCmd(e env) *cobra.Command {
	var f bench.Flags
	var long strings.Builder
	long.WriteString("Drive a load scenario and report throughput, latency percentiles, errors and the ratio to raw\n" +
		"baselines measured in the same run. Scenarios:\n")
	var names []string
	for _, s := range bench.Scenarios() {
		names = append(names, s.Name)
		fmt.Fprintf(&long, "  %-14s %s\n", s.Name, s.Short)
	}
	long.WriteString("Every target and service must be on the loopback range.")
	cmd := &cobra.Command{
		Use:   "bench <scenario>",
		Short: "Benchmark a scenario against same-run baselines (see docs/BENCHMARKS.md)",
		Long:  long.String(),
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 && slices.Contains(names, args[0]) {
				return nil
			}
			what := "which scenario?"
			if len(args) > 0 {
				what = fmt.Sprintf("unknown scenario %q", strings.Join(args, " "))
			}
			return fmt.Errorf("bench: %s; want exactly one of: %s", what, strings.Join(names, ", "))
		},
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := e.load()
			if err != nil {
				return err
			}
			sc, _ := bench.Lookup(args[0])
			return bench.Run(cmd.Context(), bench.Deps{Config: cfg, Stdout: e.stdout, Stderr: e.stderr, Start: startBenchSystem}, f, sc)
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// startBenchSystem is bench.Starter: `all` without the scheduler, over the
// isolated configuration the bench prepared, serving on ln.
func startBenchSystem(ctx context.Context, ln net.Listener, cfg config.Config, log zerolog.Logger) (_ *bench.System, err error) {
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
	sims, err := startSimulators(ctx, &cfg, log)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, sims.close)
	in, err := openInfra(ctx, cfg, log, "bench")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() {
		sctx, cancel := in.shutdownCtx()
		defer cancel()
		in.close(sctx)
	})
	w, err := buildWorkers(in)
	if err != nil {
		return nil, err
	}
	hub, stopHub, err := startLiveHub(ctx, in)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, stopHub)
	deps := apiDeps(in)
	deps.Live = hub
	e, err := api.NewServer(deps)
	if err != nil {
		return nil, err
	}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	workersDone, stopped := make(chan error, 1), make(chan struct{})
	go func() {
		workersDone <- w.Run(wctx)
		close(stopped)
	}()
	cleanups = append(cleanups, func() { stopWorkers(); <-stopped })
	go func() {
		if err := e.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("bench api stopped")
		}
	}()
	cleanups = append(cleanups, func() {
		stopHub()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Server.Shutdown(sctx)
	})
	return &bench.System{Config: cfg, Routes: e.Routes(), Pool: in.pool, PushSim: sims.push,
		AsynqQueues: in.queues.All(), AMQPQueues: w.ConsumerQueues(), Done: workersDone, Stop: cleanup}, nil
}
