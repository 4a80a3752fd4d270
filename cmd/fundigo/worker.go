package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"fundigo/pkg/outbox"
	"fundigo/scheduler"
	"fundigo/workers"
	"fundigo/workers/maintenance"
)

func newWorkerCmd(e env) *cobra.Command {
	var bindings bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the task workers, event consumers and the outbox relay",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bindings {
				// The registry built in memory, never run: no simulators or
				// credentials needed, connections are lazy, nothing is declared.
				return e.withInfra(cmd.Context(), "worker-bindings", false, func(in *infra) error {
					w, err := registryWorkers(in)
					if err != nil {
						return err
					}
					return workers.WriteBindings(e.stdout, w.Bindings())
				})
			}
			// The worker calls Daraja and Expo: it needs their configuration,
			// or FUNDIGO_SIMULATORS=true to run in-process simulators.
			return e.withInfra(cmd.Context(), "worker", true, func(in *infra) error {
				w, err := buildWorkers(in)
				if err != nil {
					return err
				}
				in.registerWorkerCollectors(w)
				return in.runWithAdmin(cmd.Context(), w.Run)
			})
		},
	}
	cmd.Flags().BoolVar(&bindings, "bindings", false, "print every event binding (routing key → queue → handler) and exit")
	return cmd
}

// buildWorkers assembles the worker pools: every domain's task handlers and
// event consumers, and the outbox relay.
func buildWorkers(in *infra) (*workers.Server, error) {
	log := in.log
	w := workers.New(log, in.redisOpt, in.amqp, workers.Config{
		Exchange:        in.cfg.AMQP.Exchange,
		Queues:          in.queues,
		Concurrency:     in.cfg.Tasks.Concurrency,
		ShutdownTimeout: in.cfg.ShutdownTimeout,
		Errors:          in.errors,
	})
	w.Mux().Use(scheduler.Middleware(in.pool, scheduler.Table(in.queues), log))

	relay, err := outbox.NewRelay(in.pool, in.pub, log, outbox.RelayConfig{Exchange: in.cfg.AMQP.Exchange})
	if err != nil {
		return nil, err
	}
	w.AddRunner(func(ctx context.Context) error {
		err := relay.Run(ctx)
		// Publish what the drained handlers committed before the connection closes.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ferr := relay.Flush(fctx); ferr != nil {
			log.Warn().Err(ferr).Msg("outbox flush at shutdown incomplete; rows stay for the next relay")
		}
		return err
	})

	if err := registerDomains(w, in); err != nil {
		return nil, err
	}
	w.Mux().Use(in.metrics.TaskMiddleware(w.HasHandler))
	w.WrapConsumers(in.metrics.WrapDelivery)
	w.WrapConsumers(w.ReportFailures)
	return w, nil
}

// registerDomains is the one list of domain workers (one block each).
func registerDomains(w *workers.Server, in *infra) error {
	// payments
	if err := registerPayments(w, in); err != nil {
		return err
	}

	// payouts
	if err := registerPayouts(w, in); err != nil {
		return err
	}

	// notifications
	if err := registerNotifications(w, in); err != nil {
		return err
	}

	// ratings
	if err := registerRatings(w, in); err != nil {
		return err
	}

	// live updates
	if err := registerLive(w, in); err != nil {
		return err
	}

	// maintenance
	maintenance.Register(w.Mux(), maintenance.Deps{Log: in.log, Pool: in.pool, Retention: in.cfg.Scheduler.Retention})

	// celery
	if in.cfg.Celery.Enabled {
		if err := registerCelery(w, in); err != nil {
			return err
		}
	}

	return nil
}
