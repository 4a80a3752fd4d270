package celery

// State is a task state as Celery stores it in the result backend.
type State string

// The states a Go worker writes or reads. A missing key reads as PENDING.
const (
	StatePending  State = "PENDING"
	StateStarted  State = "STARTED"
	StateRetry    State = "RETRY"
	StateSuccess  State = "SUCCESS"
	StateFailure  State = "FAILURE"
	StateRevoked  State = "REVOKED"
	StateRejected State = "REJECTED"
	StateIgnored  State = "IGNORED"
)

// Ready reports whether s is final (Celery's READY_STATES): AsyncResult.get()
// returns or raises on these and date_done is set.
func (s State) Ready() bool {
	switch s {
	case StateSuccess, StateFailure, StateRevoked:
		return true
	}
	return false
}
