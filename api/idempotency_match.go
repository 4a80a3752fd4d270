package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"

	"fundigo/pkg/store"
)

// Resources created under an Idempotency-Key get an id (payments) or a
// source key (notifications) derived from (caller, key), so a retry whose
// stored answer was lost finds the same resource instead of acting twice.
// The idempotency record is deleted after its retention, though, and the key
// may then come back with another request: the resource itself must not be
// returned for it. Each resource keeps every field of the request that made
// it, so the check compares them — canonically, after validation and
// normalisation (trimmed ids, phone as 2547…, JSON values not bytes) — and a
// mismatch answers errKeyReused (409).

// errKeyReused answers a key that already made a different resource.
func errKeyReused() *Problem {
	return NewProblem(http.StatusConflict, "this Idempotency-Key was already used with a different request")
}

// samePaymentRequest reports whether p is what req (validated, phone
// normalised) would have created.
func samePaymentRequest(p store.Payment, req createPaymentRequest, phone string) bool {
	return p.JobID == req.JobID && p.CustomerID == req.CustomerID && p.Phone == phone &&
		req.Amount != nil && p.Amount == *req.Amount && p.Description == req.Description &&
		p.TechnicianID == req.TechnicianID
}

// sameNotificationRequest reports whether stored is what want (validated)
// would have created.
func sameNotificationRequest(stored, want store.Notification) bool {
	return slices.Equal(stored.UserIDs, want.UserIDs) && stored.Template == want.Template &&
		stored.Title == want.Title && stored.Body == want.Body && stored.Category == want.Category &&
		stored.Priority == want.Priority && stored.CollapseID == want.CollapseID &&
		sameJSON(stored.Params, want.Params) && sameJSON(stored.Data, want.Data)
}

// sameJSON compares two JSON objects by value (a nil and an empty object are
// the same): both go through one encode/decode so numbers compare alike.
func sameJSON(a, b map[string]any) bool {
	norm := func(m map[string]any) any {
		if len(m) == 0 {
			return nil
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err.Error()
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err.Error()
		}
		return v
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
