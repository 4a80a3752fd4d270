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

// Names of the cleanup rules, for MaintenanceCleanupPayload.Rules and the result.
const (
	CleanupOutbox          = "outbox"
	CleanupInbox           = "inbox"
	CleanupIdempotencyKeys = "idempotency_keys"
	CleanupPushTickets     = "push_tickets"
	CleanupPaymentOrphans  = "payment_orphans"
	CleanupTaskOwners      = "task_owners"
)

// CleanupRules lists every cleanup rule name.
func CleanupRules() []string {
	return []string{CleanupOutbox, CleanupInbox, CleanupIdempotencyKeys, CleanupPushTickets, CleanupPaymentOrphans, CleanupTaskOwners}
}

// MaintenanceCleanupPayload is the cleanup task's body; an empty body runs
// every rule. Unknown fields (the scheduler adds its schedule and tick) are
// ignored.
type MaintenanceCleanupPayload struct {
	// Rules limits the run to these rules (Cleanup* names); empty means all.
	Rules []string `json:"rules,omitempty"`
}

// MaintenanceCleanupResult is written as the task's result (GET /v1/tasks/{id}).
type MaintenanceCleanupResult struct {
	Targets []MaintenanceCleanupTarget `json:"targets"`
}

// MaintenanceCleanupTarget reports one retention rule: how many rows it
// deleted, or why it was skipped (table not there yet, retention disabled),
// or the error that stopped it.
type MaintenanceCleanupTarget struct {
	Name      string `json:"name"`
	Table     string `json:"table"`
	Retention string `json:"retention"`
	Deleted   int64  `json:"deleted"`
	Skipped   string `json:"skipped,omitempty"`
	Error     string `json:"error,omitempty"`
}
