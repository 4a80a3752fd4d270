// Package scheduler enqueues cron jobs as Asynq tasks, exactly once per tick,
// however many scheduler replicas run.
//
// Every schedule is declared in one table (schedules.go, the routes.go of
// cron). A Scheduler replica only enqueues while it holds a leader lease in
// Redis; each tick is enqueued with a deterministic task ID (schedule name +
// tick time in UTC), so even two replicas that both believe they lead (a
// split-brain moment) cannot enqueue one tick twice: the second enqueue fails
// with asynq.ErrTaskIDConflict and is recorded as a duplicate.
//
// A durable record per schedule lives in Postgres (table schedules, queries in
// pkg/store/schedules.go): the last tick handled, the last enqueue and its
// outcome, the next run, and — written by Middleware in the worker — the
// outcome and duration of the run itself. When a replica becomes leader it
// reads that record: ticks missed while nobody led are either run once (one
// enqueue for the latest missed tick) or skipped, per schedule; never a burst.
//
// Schedule time comes from an injected Clock so tests can move it; the lease
// runs on real time because Redis expires it on real time.
package scheduler
