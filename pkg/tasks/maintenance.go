package tasks

import "time"

// Maintenance task types.
const (
	// TypeMaintenanceCleanup deletes rows past their retention: published
	// outbox rows, processed inbox rows, idempotency keys, old push tickets.
	// Idempotent (deleting what is already gone changes nothing); scheduled
	// daily and triggerable by operators.
	TypeMaintenanceCleanup = "maintenance:cleanup"
)

// MaintenanceCleanupTimeout bounds one cleanup run; deletes go in batches,
// so a run cut short leaves only less to do for the next.
const MaintenanceCleanupTimeout = 30 * time.Minute

// MaintenanceCleanupPayload is the cleanup task's body. Unknown fields (the
// scheduler adds its schedule and tick) are ignored.
type MaintenanceCleanupPayload struct {
	// DryRun counts what would be deleted without deleting it.
	DryRun bool `json:"dry_run,omitempty"`
}

// MaintenanceCleanupResult is written as the task's result (GET /v1/tasks/{id}).
type MaintenanceCleanupResult struct {
	DryRun  bool                       `json:"dry_run,omitempty"`
	Targets []MaintenanceCleanupTarget `json:"targets"`
}

// MaintenanceCleanupTarget reports one retention rule: how many rows it
// deleted, or why it was skipped (table not there yet, retention disabled).
type MaintenanceCleanupTarget struct {
	Name      string `json:"name"`
	Table     string `json:"table"`
	Retention string `json:"retention"`
	Deleted   int64  `json:"deleted"`
	Skipped   string `json:"skipped,omitempty"`
}
