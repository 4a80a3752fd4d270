package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// Create validates r, stores it and announces it: the notification row and
// its notification.requested event (outbox) are written in one
// transaction, and the notifications worker fans it out. r.ID and
// r.SourceKey are the caller's; a second Create with a known source key
// returns the stored notification with created false and announces nothing,
// so a retried request or task is one notification — provided it is the
// same request: a known source key with different content (a key reused
// after its idempotency record expired) is ErrSourceKeyReused. A
// *ValidationError means r can never be accepted.
func Create(ctx context.Context, db store.TxBeginner, r Request) (n Notification, created bool, err error) {
	if r.SourceKey == "" {
		r.SourceKey = "notification:" + r.ID
	}
	if err := Validate(&r); err != nil {
		return Notification{}, false, err
	}
	err = store.WithTx(ctx, db, func(tx pgx.Tx) error {
		n, created, err = NewStore(tx).CreateNotification(ctx, Notification{Request: r})
		if err != nil {
			return err
		}
		if !created {
			if !sameRequest(n.Request, r) {
				return ErrSourceKeyReused
			}
			return nil
		}
		m, err := storedEvent(r)
		if err != nil {
			return err
		}
		return outbox.Write(ctx, tx, m)
	})
	if err != nil {
		return Notification{}, false, err
	}
	return n, created, nil
}

// HeaderStored marks a notification.requested event whose notification is
// stored already: Create and CreateMany write it in the transaction that
// stores the row, with the notification's id as value. The notifications
// worker acks such an event without storing it again (IsStored); the live
// feed and other consumers use it as any other. Only FundiGO sets it: a
// publisher that set it on a request nobody stored would lose that
// request.
const HeaderStored = "x-fundigo-notification-stored"

// storedEvent is r's notification.requested event, marked HeaderStored.
func storedEvent(r Request) (outbox.Message, error) {
	m, err := outbox.EventMessage(r)
	if err != nil {
		return outbox.Message{}, err
	}
	m.Headers = map[string]string{HeaderStored: r.ID}
	return m, nil
}

// IsStored reports whether a notification.requested event with messageID
// and headers announces a notification already stored (HeaderStored,
// naming the notification the message id names).
func IsStored(messageID string, headers map[string]any) bool {
	id, ok := headers[HeaderStored].(string)
	return ok && id != "" && messageID == Request{ID: id}.MessageID()
}

// ErrSourceKeyReused: a notification with the request's source key exists
// but was made by a different request.
var ErrSourceKeyReused = errors.New("source key already used by a different notification request")

// sameRequest reports whether stored is what want (validated) would have
// created.
func sameRequest(stored, want Request) bool {
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

// Lookup returns a notification and the tally of its deliveries, or
// store.ErrNotFound.
func Lookup(ctx context.Context, db DB, id string) (Notification, Counts, error) {
	s := NewStore(db)
	n, err := s.Notification(ctx, id)
	if err != nil {
		return Notification{}, Counts{}, err
	}
	c, err := s.Counts(ctx, n.ID)
	if err != nil {
		return Notification{}, Counts{}, err
	}
	return n, c, nil
}

// CreateMany is Create for many requests in one transaction: every request
// is validated first (the first *ValidationError refuses them all), then the
// notifications are inserted with one statement and the
// notification.requested events of those created with one more. A request
// whose source key is already stored is skipped, neither created nor
// announced again (unlike Create it is not compared with the stored one).
// It returns how many were created. It is how a campaign (and the push
// benchmark) queues thousands of notifications at once; the sender loop
// then fans them out and sends them exactly as Create's.
func CreateMany(ctx context.Context, db store.TxBeginner, rs []Request) (created int, err error) {
	for i := range rs {
		if rs[i].SourceKey == "" {
			rs[i].SourceKey = "notification:" + rs[i].ID
		}
		if err := Validate(&rs[i]); err != nil {
			return 0, fmt.Errorf("request %d: %w", i, err)
		}
	}
	err = store.WithTx(ctx, db, func(tx pgx.Tx) error {
		ids, err := NewStore(tx).InsertNotifications(ctx, rs)
		if err != nil {
			return err
		}
		isNew := make(map[string]bool, len(ids))
		for _, id := range ids {
			isNew[id] = true
		}
		msgs := make([]outbox.Message, 0, len(ids))
		for _, r := range rs {
			if !isNew[r.ID] {
				continue
			}
			m, err := storedEvent(r)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		created = len(msgs)
		return outbox.WriteBatch(ctx, tx, msgs)
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}
