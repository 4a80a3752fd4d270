package bench

import (
	"time"

	"github.com/spf13/pflag"

	kit "fundigo/pkg/bench"
)

// Flags are the command line of `fundigo bench`.
type Flags struct {
	Opts              kit.Options
	Rounds            int
	JSON              bool
	Target, APIKey    string
	CallbackToken     string
	CPUProfile        string
	LogLevel          string
	Baselines         bool
	WorkerConcurrency int
	Consumers         int
	Prefetch          int
	MessageBytes      int
	SimDelay          time.Duration
	Users, Fanout     int
	ExpoRate          int
	PushMessages      int
	PushSimURL        string
	Reviews           int
	Technicians       int
	PaidTimeout       time.Duration
	Conns             int
	EventsPerConn     int
	EventRate         int
	StreamClients     bool   // internal: run as bench stream's client process
	StreamPrefix      string // internal: the client process's user-id prefix
}

// Register defines the flags on fl.
func (f *Flags) Register(fl *pflag.FlagSet) {
	fl.IntVar(&f.Opts.Concurrency, "concurrency", 64, "closed loop: workers; open loop: most operations in flight")
	fl.Float64Var(&f.Opts.Rate, "rate", 0, "open loop: operations started per second (0: closed loop)")
	fl.DurationVar(&f.Opts.Duration, "duration", 10*time.Second, "how long each measured phase runs (0: bounded by --count)")
	fl.Int64Var(&f.Opts.Count, "count", 0, "operations per measured phase (0: bounded by --duration); callbacks: N (0: 10000)")
	fl.DurationVar(&f.Opts.Warmup, "warmup", 2*time.Second, "unrecorded load before each measured phase")
	fl.DurationVar(&f.Opts.Timeout, "timeout", 30*time.Second, "per-operation timeout")
	fl.IntVar(&f.Rounds, "rounds", 1, "run the scenario this many times (baseline and scenario alternating) and report medians")
	fl.BoolVar(&f.JSON, "json", false, "print the report as JSON")
	fl.StringVar(&f.Target, "target", "", "base URL of a running system (loopback only); empty: start one in-process")
	fl.StringVar(&f.APIKey, "api-key", "", "X-API-Key for --target (a service key)")
	fl.StringVar(&f.CallbackToken, "callback-token", "", "STK webhook path token of --target (FUNDIGO_MPESA_CALLBACK_TOKEN)")
	fl.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile of each scenario phase to FILE with the phase name inserted (cpu.prof → cpu.tasks.asynq_noop.prof)")
	fl.StringVar(&f.LogLevel, "log-level", "error", "log level of the in-process system (its per-request logs would measure the terminal)")
	fl.BoolVar(&f.Baselines, "baselines", true, "measure the raw baselines (false: scenario figures only, no ratios)")
	fl.IntVar(&f.WorkerConcurrency, "worker-concurrency", 0, "Asynq server goroutines, ours and raw (0: FUNDIGO_WORKER_CONCURRENCY)")
	fl.IntVar(&f.Consumers, "consumers", 16, "AMQP handler goroutines per consumer, ours and raw")
	fl.IntVar(&f.Prefetch, "prefetch", 0, "AMQP prefetch, ours and raw (0: FUNDIGO_AMQP_PREFETCH)")
	fl.IntVar(&f.MessageBytes, "message-bytes", 512, "size of raw rows and messages (an STK callback is about 500-900 bytes)")
	fl.DurationVar(&f.SimDelay, "sim-delay", time.Millisecond, "in-process Daraja simulator: how long the simulated customer takes to answer")
	fl.IntVar(&f.Users, "users", 10000, "notifications: users with one Expo device each")
	fl.IntVar(&f.Fanout, "fanout", 100, "notifications: users per notification request")
	fl.IntVar(&f.ExpoRate, "expo-rate", 1000000, "notifications: the in-process system's Expo rate limit per second")
	fl.IntVar(&f.PushMessages, "push-messages", 50000, "notifications: messages of the push-path phase, whose notifications (--fanout users each) are created in bulk before its clock starts (0: skip it)")
	fl.StringVar(&f.PushSimURL, "push-sim-url", "", "notifications with --target: base URL of the push simulator it sends to")
	fl.IntVar(&f.Reviews, "reviews", 1000000, "ratings: reviews to seed")
	fl.IntVar(&f.Technicians, "technicians", 100000, "ratings: technicians the reviews are spread over")
	fl.IntVar(&f.Conns, "conns", 10000, "stream: concurrent WebSocket connections (one user each)")
	fl.IntVar(&f.EventsPerConn, "events-per-conn", 5, "stream: events each connection receives")
	fl.IntVar(&f.EventRate, "event-rate", 2000, "stream: events committed to the outbox per second")
	fl.BoolVar(&f.StreamClients, "stream-clients", false, "internal: run as the client process of bench stream")
	fl.StringVar(&f.StreamPrefix, "stream-prefix", "", "internal: user-id prefix of bench stream's client process")
	_ = fl.MarkHidden("stream-clients")
	_ = fl.MarkHidden("stream-prefix")
	fl.DurationVar(&f.PaidTimeout, "paid-timeout", 5*time.Minute, "callbacks: give up when no payment became paid for this long")
}
