package main

import (
	"time"

	"github.com/spf13/pflag"

	"fundigo/pkg/bench"
)

// benchFlags are the command line of `fundigo bench`.
type benchFlags struct {
	opts              bench.Options
	rounds            int
	json              bool
	target, apiKey    string
	callbackToken     string
	cpuprofile        string
	logLevel          string
	baselines         bool
	workerConcurrency int
	consumers         int
	prefetch          int
	messageBytes      int
	simDelay          time.Duration
	users, fanout     int
	expoRate          int
	pushSimURL        string
	reviews           int
	technicians       int
}

// register defines the flags on fl.
func (f *benchFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&f.opts.Concurrency, "concurrency", 64, "closed loop: workers; open loop: most operations in flight")
	fl.Float64Var(&f.opts.Rate, "rate", 0, "open loop: operations started per second (0: closed loop)")
	fl.DurationVar(&f.opts.Duration, "duration", 10*time.Second, "how long each measured phase runs (0: bounded by --count)")
	fl.Int64Var(&f.opts.Count, "count", 0, "operations per measured phase (0: bounded by --duration)")
	fl.DurationVar(&f.opts.Warmup, "warmup", 2*time.Second, "unrecorded load before each measured phase")
	fl.DurationVar(&f.opts.Timeout, "timeout", 30*time.Second, "per-operation timeout")
	fl.IntVar(&f.rounds, "rounds", 1, "run the scenario this many times (baseline and scenario alternating) and report medians")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.StringVar(&f.target, "target", "", "base URL of a running system (loopback only); empty: start one in-process")
	fl.StringVar(&f.apiKey, "api-key", "", "X-API-Key for --target (a service key)")
	fl.StringVar(&f.callbackToken, "callback-token", "", "STK webhook path token of --target (FUNDIGO_MPESA_CALLBACK_TOKEN)")
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of each scenario phase to FILE with the phase name inserted (cpu.prof → cpu.tasks.asynq_noop.prof)")
	fl.StringVar(&f.logLevel, "log-level", "error", "log level of the in-process system (its per-request logs would measure the terminal)")
	fl.BoolVar(&f.baselines, "baselines", true, "measure the raw baselines (false: scenario figures only, no ratios)")
	fl.IntVar(&f.workerConcurrency, "worker-concurrency", 0, "Asynq server goroutines, ours and raw (0: FUNDIGO_WORKER_CONCURRENCY)")
	fl.IntVar(&f.consumers, "consumers", 16, "AMQP handler goroutines per consumer, ours and raw")
	fl.IntVar(&f.prefetch, "prefetch", 0, "AMQP prefetch, ours and raw (0: FUNDIGO_AMQP_PREFETCH)")
	fl.IntVar(&f.messageBytes, "message-bytes", 512, "size of raw rows and messages (an STK callback is about 500-900 bytes)")
	fl.DurationVar(&f.simDelay, "sim-delay", time.Millisecond, "in-process Daraja simulator: how long the simulated customer takes to answer")
	fl.IntVar(&f.users, "users", 10000, "notifications: users with one Expo device each")
	fl.IntVar(&f.fanout, "fanout", 100, "notifications: users per notification request")
	fl.IntVar(&f.expoRate, "expo-rate", 1000000, "notifications: the in-process system's Expo rate limit per second")
	fl.StringVar(&f.pushSimURL, "push-sim-url", "", "notifications with --target: base URL of the push simulator it sends to")
	fl.IntVar(&f.reviews, "reviews", 1000000, "ratings: reviews to seed")
	fl.IntVar(&f.technicians, "technicians", 100000, "ratings: technicians the reviews are spread over")
}
