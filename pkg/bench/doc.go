// Package bench is the load generator behind `fundigo bench`: it drives an
// operation (one webhook, one task round trip…) in closed-loop or open-loop
// mode, records latencies in an HDR histogram, and reports throughput,
// p50/p90/p99/max and errors as a table or JSON. It also measures the raw
// baselines each scenario is compared with in the same run (single-row
// Postgres commits, RabbitMQ confirmed publishes and consumes, Asynq no-op
// round trips, a set-based SQL aggregate), so that ratios stay meaningful on
// a noisy shared machine.
//
// # Modes
//
// Closed loop (Options.Rate == 0): Concurrency workers each start their next
// operation as soon as the previous one finished. Throughput is what the
// system sustains at that many outstanding requests.
//
// Open loop (Options.Rate > 0): operations start on a fixed schedule,
// whatever the latency, with at most Concurrency in flight; latency is
// measured from each operation's scheduled start, so a stall shows up as
// latency instead of as a politely lower offered load (no coordinated
// omission).
//
// # Safety
//
// A load generator pointed at the wrong host is a denial of service:
// CheckLoopback refuses any target or service URL that is not on the
// loopback range, and the baselines only ever write to scratch schemas,
// queues and keys they create and remove themselves.
package bench
