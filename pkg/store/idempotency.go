package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// IdempotencyClaim is one request's hold on (Scope, Key) in idempotency_keys:
// Owner is a token only that request knows, so a slow request is never run
// twice and only its owner stores or releases the answer.
type IdempotencyClaim struct {
	Scope, Key string
	Owner      uuid.UUID
	Lease      time.Duration
	// Hash is the request's hash; LegacyHash is the body-only hash that
	// records written before the hash covered method, path and caller hold.
	Hash, LegacyHash []byte
}

// IdempotencyRecord is what idempotency_keys holds for a key; Status is nil
// while the request that claimed it is still running.
type IdempotencyRecord struct {
	Hash        []byte
	Status      *int
	ContentType *string
	// Location is the answer's Location header (nil: it had none).
	Location *string
	Body     []byte
}

// Claim takes the key for this request: a new key, or one whose previous
// owner's lease lapsed without an answer (a crash) for the same request.
// false means someone else holds or answered it (see Record).
func (c IdempotencyClaim) Claim(ctx context.Context, db DB) (bool, error) {
	tag, err := db.Exec(ctx, `
		INSERT INTO idempotency_keys (scope, key, request_hash, owner, lease_until)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
		ON CONFLICT (scope, key) DO UPDATE
		SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, created_at = now(),
		    request_hash = EXCLUDED.request_hash
		WHERE idempotency_keys.completed_at IS NULL
		  AND COALESCE(idempotency_keys.lease_until, idempotency_keys.created_at + interval '30 seconds') < now()
		  AND idempotency_keys.request_hash IN (EXCLUDED.request_hash, $6)`,
		c.Scope, c.Key, c.Hash, c.Owner, c.Lease.Seconds(), c.LegacyHash)
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Record reads the key's row; ErrNotFound when it was just released.
func (c IdempotencyClaim) Record(ctx context.Context, db DB) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	err := db.QueryRow(ctx, `SELECT request_hash, status_code, content_type, location, body FROM idempotency_keys WHERE scope=$1 AND key=$2`,
		c.Scope, c.Key).Scan(&r.Hash, &r.Status, &r.ContentType, &r.Location, &r.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read idempotency key: %w", err)
	}
	return r, nil
}

// Renew extends the lease; false once the claim is no longer ours.
func (c IdempotencyClaim) Renew(ctx context.Context, db DB) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => $4)
		WHERE scope = $1 AND key = $2 AND owner = $3 AND completed_at IS NULL`,
		c.Scope, c.Key, c.Owner, c.Lease.Seconds())
	if err != nil {
		return false, fmt.Errorf("renew idempotency key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release deletes the unanswered claim so a retry runs again.
func (c IdempotencyClaim) Release(ctx context.Context, db DB) error {
	_, err := db.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope=$1 AND key=$2 AND owner=$3 AND completed_at IS NULL`,
		c.Scope, c.Key, c.Owner)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Complete stores the answer to replay (location: its Location header, ""
// for none), while the claim is still ours.
func (c IdempotencyClaim) Complete(ctx context.Context, db DB, status int, contentType, location string, body []byte) error {
	_, err := db.Exec(ctx, `UPDATE idempotency_keys SET status_code=$4, content_type=$5, body=$6, location=NULLIF($7, ''),
		completed_at=now()
		WHERE scope=$1 AND key=$2 AND owner=$3 AND completed_at IS NULL`, c.Scope, c.Key, c.Owner, status, contentType, body, location)
	if err != nil {
		return fmt.Errorf("store idempotent answer: %w", err)
	}
	return nil
}

// CleanupIdempotencyKeys deletes keys older than olderThan, in batches.
func CleanupIdempotencyKeys(ctx context.Context, db DB, olderThan time.Duration, batch int) (int64, error) {
	return DeleteInBatches(ctx, db, `DELETE FROM idempotency_keys WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency_keys
		WHERE created_at < now() - $1::interval
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, batch)
}

// KeyedID returns the id of a record created under an Idempotency-Key:
// derived from (caller, key) in the namespace space, so a retry whose
// stored answer was lost finds the same record instead of making a second
// one; random when no key is given. Each domain passes its own namespace.
func KeyedID(space uuid.UUID, caller, key string) string {
	if key == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(space, []byte(caller+"\x00"+key)).String()
}
