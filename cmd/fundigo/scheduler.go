package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"fundigo/pkg/metrics"
	"fundigo/scheduler"
)

func newSchedulerCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the cron scheduler (any number of replicas; each tick is enqueued once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withInfra(cmd.Context(), "scheduler", false, func(in *infra) error {
				s, err := newScheduler(in, nil)
				if err != nil {
					return err
				}
				return in.runWithAdmin(cmd.Context(), s.Run)
			})
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Print every schedule with its next and last run and last result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withInfra(cmd.Context(), "scheduler-list", false, func(in *infra) error {
				s, err := newScheduler(in, nil)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				defer cancel()
				rows, err := s.List(ctx)
				if err != nil {
					return err
				}
				return scheduler.WriteTable(e.stdout, rows)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "run-now NAME",
		Short: "Enqueue a run of one schedule now and print its task id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withInfra(cmd.Context(), "scheduler-run-now", false, func(in *infra) error {
				s, err := newScheduler(in, nil)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				defer cancel()
				id, err := s.RunNow(ctx, args[0])
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, id)
				return err
			})
		},
	})
	return cmd
}

// newScheduler builds the scheduler. hasHandler tells which task types have
// a handler; nil means handledTaskTypes (a static list: the scheduler never
// builds the workers, nor needs Daraja or Expo configured).
func newScheduler(in *infra, hasHandler func(string) bool) (*scheduler.Scheduler, error) {
	if hasHandler == nil {
		hasHandler = handledTaskTypes()
	}
	instance := uuid.NewString()
	leaseKey := in.cfg.Redis.KeyPrefix + "scheduler:leader"
	// Registered once per process: every command builds one scheduler.
	in.registry.MustRegister(metrics.NewScheduler(in.pool, in.redis, leaseKey, instance))
	s, err := scheduler.New(scheduler.Deps{
		Log:       in.log,
		Pool:      in.pool,
		Redis:     in.redis,
		Tasks:     in.tasks,
		Inspector: in.insp,
	}, scheduler.Config{
		Schedules:      scheduler.Table(in.queues),
		TimeZone:       in.cfg.Scheduler.TimeZone,
		LeaseKey:       leaseKey,
		InstanceID:     instance,
		LeaseTTL:       in.cfg.Scheduler.LeaseTTL,
		MissedGrace:    in.cfg.Scheduler.MissedGrace,
		HasHandlerFunc: hasHandler,
		Disabled:       in.cfg.Scheduler.Disable,
	})
	if errors.Is(err, scheduler.ErrUnknownSchedule) {
		return nil, fmt.Errorf("FUNDIGO_SCHEDULER_DISABLE: %w", err)
	}
	return s, err
}
