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
	if p.Kind == "user" {
		user = &p.UserID
	} else if forUser != "" {
		user = &forUser
	}
	return store.RecordTaskOwner(ctx, db, id, p.Name, user)
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
