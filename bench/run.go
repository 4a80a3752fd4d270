package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/logging"
)

// Scenario is one `fundigo bench <name>`.
type Scenario struct {
	Name  string
	Short string
	run   func(ctx context.Context, b *benchRun) error
	// defaults, if set, adjusts the flags before anything runs.
	defaults func(f *Flags)
}

// Scenarios is the one list of scenarios, sorted by name.
func Scenarios() []Scenario {
	s := []Scenario{
		{"baselines", "only the raw baselines: Postgres commits, RabbitMQ publish/consume/round trip, Asynq no-op", benchBaselines, nil},
		{"callbacks", "N (--count) payments awaiting their STK callback, N success callbacks posted: ack rate and paid/s until all are paid", benchCallbacks, callbacksDefaults},
		{"webhooks", "STK callbacks to the API: durable (committed) ack rate and latency, vs raw single-row commits", benchWebhooks, nil},
		{"payments", "create payment → STK push → simulator → callback → paid event: end-to-end rate and latency", benchPayments, nil},
		{"notifications", "notification requests fanned out to the push simulator: accept rate and delivered messages/s; then the push path alone (--push-messages created in bulk before the clock)", benchNotifications, nil},
		{"ratings", "seed reviews, then time the full recompute (POST /v1/admin/ratings/recompute) vs one set-based SQL statement", benchRatings, nil},
		{"stream", "--conns WebSocket clients (default 10000, in a child process) each receiving --events-per-conn events committed to the outbox: delivered messages/s, p99 latency from commit, server memory per connection", benchStream, nil},
		{"tasks", "no-op Asynq and RabbitMQ round trips through pkg/tasks + workers and amqpx, vs raw", benchTasks, nil},
	}
	slices.SortFunc(s, func(a, b Scenario) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}

// Deps is what a bench invocation needs from its command: the loaded
// configuration, the output streams, and how to start a whole FundiGO
// in-process (cmd's wiring; used when Flags.Target is empty).
type Deps struct {
	Config config.Config
	Stdout io.Writer
	Stderr io.Writer
	Start  Starter
}

// benchRun is the state of one invocation, shared by the scenario's phases.
type benchRun struct {
	flags    Flags
	cfg      config.Config
	log      zerolog.Logger
	start    Starter
	stderr   *os.File    // non-nil when it is a terminal: progress bars go there
	stdout   io.Writer   // the report's stream (bench stream's client process talks on it)
	report   *kit.Report // the current round's
	round    string      // "2/3 ", for progress bars
	redisOpt asynq.RedisConnOpt
}

// Run runs scenario sc with flags f, --rounds times, and writes the median
// report (a table, or JSON with --json) to d.Stdout.
func Run(ctx context.Context, d Deps, f Flags, sc Scenario) error {
	cfg := d.Config
	if sc.defaults != nil {
		sc.defaults(&f)
	}
	if f.Opts.Concurrency < 1 || f.Rounds < 1 {
		return errors.New("--concurrency and --rounds must be at least 1")
	}
	if err := (kit.Options{Concurrency: f.Opts.Concurrency, Rate: f.Opts.Rate, Duration: f.Opts.Duration, Count: f.Opts.Count}).Validate(); err != nil {
		return err
	}
	for _, u := range []string{cfg.Database.URL.Reveal(), cfg.Redis.URL.Reveal(), cfg.AMQP.URL.Reveal(), f.Target} {
		if u == "" {
			continue
		}
		if err := kit.CheckLoopback(ctx, u); err != nil {
			return err
		}
	}
	if f.Target == "" && d.Start == nil {
		return errors.New("no in-process system to start: give --target")
	}
	if f.WorkerConcurrency == 0 {
		f.WorkerConcurrency = cfg.Tasks.Concurrency
	}
	if f.Prefetch == 0 {
		f.Prefetch = cfg.AMQP.Prefetch
	}
	log, err := logging.New(d.Stderr, logging.Options{Level: f.LogLevel, Format: cfg.Log.Format})
	if err != nil {
		return err
	}
	redisOpt, err := asynq.ParseRedisURI(cfg.Redis.URL.Reveal())
	if err != nil {
		return errors.New("parse FUNDIGO_REDIS_URL: invalid")
	}
	machine := kit.DescribeMachine(ctx, kit.Services{
		DatabaseURL: cfg.Database.URL.Reveal(), RedisURL: cfg.Redis.URL.Reveal(), AMQPURL: cfg.AMQP.URL.Reveal(),
	})
	b := &benchRun{flags: f, cfg: cfg, log: log, start: d.Start, redisOpt: redisOpt, stdout: d.Stdout}
	if tty, ok := d.Stderr.(*os.File); ok && kit.IsTerminal(tty) {
		b.stderr = tty
	}
	var rounds []*kit.Report
	var runErr error
	for i := range f.Rounds {
		b.round = fmt.Sprintf("%d/%d ", i+1, f.Rounds)
		b.report = kit.NewReport(sc.Name, f.Opts, machine, time.Now())
		rounds = append(rounds, b.report)
		if runErr = sc.run(ctx, b); runErr != nil {
			break
		}
	}
	report := kit.Median(rounds)
	if f.JSON {
		if err := report.WriteJSON(d.Stdout); err != nil {
			return err
		}
	} else if err := report.WriteTable(d.Stdout); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("bench %s: %w", sc.Name, runErr)
	}
	return nil
}

// options are the load options of one phase, with a progress bar when
// stderr is a terminal.
func (b *benchRun) options(phase string) kit.Options {
	o := b.flags.Opts
	if b.stderr != nil {
		o.ProgressFunc = kit.NewProgressBar(b.stderr, b.round+phase, o)
	}
	return o
}

// measure runs one scenario phase (profiled when --cpuprofile is set) and
// adds its result to the report, compared with baseline and checked against
// target when they are given.
func (b *benchRun) measure(ctx context.Context, name, unit, baseline string, target *kit.Target, op kit.OpFunc) (kit.Result, error) {
	stop, err := b.profile(name)
	if err != nil {
		return kit.Result{}, err
	}
	res, err := kit.Run(ctx, name, b.options(name), op)
	stop()
	res.Unit, res.Baseline, res.Target = unit, baseline, target
	b.report.Add(res)
	return res, err
}

// add records a result measured outside measure (baselines, batch timings).
func (b *benchRun) add(res kit.Result, baseline string, target *kit.Target) {
	res.Baseline, res.Target = baseline, target
	b.report.Add(res)
}

// profile starts a CPU profile for phase when --cpuprofile is set.
func (b *benchRun) profile(phase string) (stop func(), err error) {
	if b.flags.CPUProfile == "" {
		return func() {}, nil
	}
	ext := filepath.Ext(b.flags.CPUProfile)
	path := strings.TrimSuffix(b.flags.CPUProfile, ext) + "." + phase + ext
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

// stdoutOrDiscard is the command's stdout (io.Discard when none was given).
func (b *benchRun) stdoutOrDiscard() io.Writer {
	if b.stdout == nil {
		return io.Discard
	}
	return b.stdout
}
