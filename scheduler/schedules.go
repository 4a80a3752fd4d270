package scheduler

import (
	"time"

	"fundigo/pkg/tasks"
)

// Table declares every cron job, in one place (the routes.go of cron). Specs
// are read in Config.TimeZone (Africa/Nairobi) unless an entry names a zone.
// Timeouts stay below the interval so a healthy run ends before its next tick.
func Table(q tasks.Queues) []Schedule {
	return []Schedule{
		{
			// Payments waiting too long for a callback are resolved by STK
			// Push Query; B2C payouts by Transaction Status.
			Name: "payments:reconcile", Spec: "* * * * *",
			TaskType: tasks.TypePaymentsReconcile, Queue: q.Critical,
			Timeout: 50 * time.Second, MaxRetry: 0,
			Overlap: OverlapSkip, Missed: MissedRunOnce,
		},
		{
			// B2C payouts whose result is late: Transaction Status with
			// backoff, needs_review past the final deadline; never re-sent.
			Name: "payouts:reconcile", Spec: "* * * * *",
			TaskType: tasks.TypePayoutsReconcile, Queue: q.Critical,
			Timeout: 50 * time.Second, MaxRetry: 0,
			Overlap: OverlapSkip, Missed: MissedRunOnce,
		},
		{
			// Expo push receipts for tickets about 15 minutes old.
			Name: "push:receipts", Spec: "*/5 * * * *",
			TaskType: tasks.TypePushReceipts, Queue: q.Default,
			Timeout: 4 * time.Minute, MaxRetry: 0,
			Overlap: OverlapSkip, Missed: MissedRunOnce,
		},
		{
			// Nightly set-based recompute of every technician's rating.
			Name: "ratings:recompute_all", Spec: "0 3 * * *",
			TaskType: tasks.TypeRatingsRecomputeAll, Queue: q.Low,
			Timeout: tasks.RecomputeAllTimeout, MaxRetry: 20,
			Overlap: OverlapSkip, Missed: MissedRunOnce,
		},
		{
			// Retention: published outbox, processed inbox, idempotency
			// keys, old push tickets.
			Name: "maintenance:cleanup", Spec: "0 4 * * *",
			TaskType: tasks.TypeMaintenanceCleanup, Queue: q.Low,
			Timeout: tasks.MaintenanceCleanupTimeout, MaxRetry: 3,
			Overlap: OverlapSkip, Missed: MissedRunOnce,
		},
	}
}
