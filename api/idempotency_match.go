package api

import (
	"net/http"
)

// Resources created under an Idempotency-Key get an id (payments) or a
// source key (notifications) derived from (caller, key), so a retry whose
// stored answer was lost finds the same resource instead of acting twice.
// The idempotency record is deleted after its retention, though, and the key
// may then come back with another request: the resource itself must not be
// returned for it. Each resource keeps every field of the request that made
// it, so the check compares them — canonically, after validation and
// normalisation (trimmed ids, phone as 2547…, JSON values not bytes) — and a
// mismatch answers errKeyReused (409). For notifications the comparison is
// the domain's (notification.ErrSourceKeyReused).

// errKeyReused answers a key that already made a different resource.
func errKeyReused() *Problem {
	return NewProblem(http.StatusConflict, "this Idempotency-Key was already used with a different request")
}
