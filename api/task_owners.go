package api

import (
	"context"

	"fundigo/pkg/store"
)

// recordTaskOwner records who accepted task id (p) and, optionally, the user
// it acts for (a payment's customer: the Django app creates payments with a
// service key on behalf of customers whose user id is the customer id). Call
// it before the task is enqueued. A second record for the same id (a retry)
// keeps the first.
func recordTaskOwner(ctx context.Context, db store.DB, id string, p Principal, forUser string) error {
	var user *string
	if u := ownerUser(p, forUser); u != "" {
		user = &u
	}
	return store.RecordTaskOwner(ctx, db, id, p.Name, user)
}

// ownerUser is the user a task accepted by p is recorded for: a user
// principal's own id, otherwise forUser ("" for none).
func ownerUser(p Principal, forUser string) string {
	if p.Kind == "user" {
		return p.UserID
	}
	return forUser
}

// taskVisible reports whether p may read task id: services always; a user
// only a task recorded as theirs (principal or the user it acts for).
func taskVisible(ctx context.Context, db store.DB, id string, p Principal) (bool, error) {
	if p.Kind == "service" {
		return true, nil
	}
	if p.Kind != "user" || p.UserID == "" {
		return false, nil
	}
	return store.TaskOwnedBy(ctx, db, id, p.Name, p.UserID)
}
