package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/logging"
)

// benchScenario is one `fundigo bench <name>`.
type benchScenario struct {
	short string
	run   func(ctx context.Context, b *benchRun) error
}

// benchScenarios is the one list of scenarios.
func benchScenarios() map[string]benchScenario {
	return map[string]benchScenario{
		"baselines":     {"only the raw baselines: Postgres commits, RabbitMQ publish/consume/round trip, Asynq no-op", benchBaselines},
		"webhooks":      {"STK callbacks to the API: durable (committed) ack rate and latency, vs raw single-row commits", benchWebhooks},
		"payments":      {"create payment → STK push → simulator → callback → paid event: end-to-end rate and latency", benchPayments},
		"notifications": {"notification requests fanned out to the push simulator: accept rate and delivered messages/s", benchNotifications},
		"ratings":       {"seed reviews, then time the full recompute (POST /v1/admin/ratings/recompute) vs one set-based SQL statement", benchRatings},
		"tasks":         {"no-op Asynq and RabbitMQ round trips through pkg/tasks + workers and amqpx, vs raw", benchTasks},
	}
}

func newBenchCmd(e env) *cobra.Command {
	var f benchFlags
	scenarios := benchScenarios()
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	var long strings.Builder
	long.WriteString("Drive a load scenario and report throughput, latency percentiles, errors and the ratio to raw\n" +
		"baselines measured in the same run. Scenarios:\n")
	for _, n := range names {
		fmt.Fprintf(&long, "  %-14s %s\n", n, scenarios[n].short)
	}
	long.WriteString("Every target and service must be on the loopback range.")
	cmd := &cobra.Command{
		Use:       "bench <scenario>",
		Short:     "Benchmark a scenario against same-run baselines (see docs/BENCHMARKS.md)",
		Long:      long.String(),
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), e, f, args[0], scenarios[args[0]])
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// benchRun is the state of one invocation, shared by the scenario's phases.
type benchRun struct {
	flags    benchFlags
	cfg      config.Config
	log      zerolog.Logger
	stderr   *os.File      // non-nil when it is a terminal: progress bars go there
	report   *bench.Report // the current round's
	round    string        // "2/3 ", for progress bars
	redisOpt asynq.RedisConnOpt
}

func runBench(ctx context.Context, e env, f benchFlags, name string, sc benchScenario) error {
	cfg, _, err := e.load()
	if err != nil {
		return err
	}
	if f.opts.Concurrency < 1 || f.rounds < 1 {
		return errors.New("--concurrency and --rounds must be at least 1")
	}
	if err := (bench.Options{Concurrency: f.opts.Concurrency, Rate: f.opts.Rate, Duration: f.opts.Duration, Count: f.opts.Count}).Validate(); err != nil {
		return err
	}
	for _, u := range []string{cfg.Database.URL.Reveal(), cfg.Redis.URL.Reveal(), cfg.AMQP.URL.Reveal(), f.target} {
		if u == "" {
			continue
		}
		if err := bench.CheckLoopback(ctx, u); err != nil {
			return err
		}
	}
	if f.workerConcurrency == 0 {
		f.workerConcurrency = cfg.Tasks.Concurrency
	}
	if f.prefetch == 0 {
		f.prefetch = cfg.AMQP.Prefetch
	}
	log, err := logging.New(e.stderr, logging.Options{Level: f.logLevel, Format: cfg.Log.Format})
	if err != nil {
		return err
	}
	redisOpt, err := asynq.ParseRedisURI(cfg.Redis.URL.Reveal())
	if err != nil {
		return errors.New("parse FUNDIGO_REDIS_URL: invalid")
	}
	machine := bench.DescribeMachine(ctx, bench.Services{
		DatabaseURL: cfg.Database.URL.Reveal(), RedisURL: cfg.Redis.URL.Reveal(), AMQPURL: cfg.AMQP.URL.Reveal(),
	})
	b := &benchRun{flags: f, cfg: cfg, log: log, redisOpt: redisOpt}
	if tty, ok := e.stderr.(*os.File); ok && bench.IsTerminal(tty) {
		b.stderr = tty
	}
	var rounds []*bench.Report
	var runErr error
	for i := range f.rounds {
		b.round = fmt.Sprintf("%d/%d ", i+1, f.rounds)
		b.report = bench.NewReport(name, f.opts, machine, time.Now())
		rounds = append(rounds, b.report)
		if runErr = sc.run(ctx, b); runErr != nil {
			break
		}
	}
	report := bench.Median(rounds)
	if f.json {
		if err := report.WriteJSON(e.stdout); err != nil {
			return err
		}
	} else if err := report.WriteTable(e.stdout); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("bench %s: %w", name, runErr)
	}
	return nil
}

// options are the load options of one phase, with a progress bar when
// stderr is a terminal.
func (b *benchRun) options(phase string) bench.Options {
	o := b.flags.opts
	if b.stderr != nil {
		o.ProgressFunc = bench.NewProgressBar(b.stderr, b.round+phase, o)
	}
	return o
}

// measure runs one scenario phase (profiled when --cpuprofile is set) and
// adds its result to the report, compared with baseline and checked against
// target when they are given.
func (b *benchRun) measure(ctx context.Context, name, unit, baseline string, target *bench.Target, op bench.OpFunc) (bench.Result, error) {
	stop, err := b.profile(name)
	if err != nil {
		return bench.Result{}, err
	}
	res, err := bench.Run(ctx, name, b.options(name), op)
	stop()
	res.Unit, res.Baseline, res.Target = unit, baseline, target
	b.report.Add(res)
	return res, err
}

// add records a result measured outside measure (baselines, batch timings).
func (b *benchRun) add(res bench.Result, baseline string, target *bench.Target) {
	res.Baseline, res.Target = baseline, target
	b.report.Add(res)
}

// profile starts a CPU profile for phase when --cpuprofile is set.
func (b *benchRun) profile(phase string) (stop func(), err error) {
	if b.flags.cpuprofile == "" {
		return func() {}, nil
	}
	ext := filepath.Ext(b.flags.cpuprofile)
	path := strings.TrimSuffix(b.flags.cpuprofile, ext) + "." + phase + ext
	if ext == "" {
		path += ".prof"
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
