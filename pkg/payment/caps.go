package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/store"
)

// Caps bound the STK prompts one phone receives, whoever asks for them
// (FUNDIGO_STK_MAX_OPEN_PER_PHONE, FUNDIGO_STK_MAX_PER_PHONE_HOUR). A zero
// field is no cap.
type Caps struct {
	// MaxOpen: payments still awaiting the customer (pending or
	// awaiting_callback) on one phone at once.
	MaxOpen int
	// MaxPerHour: payments created for one phone in the last hour.
	MaxPerHour int
}

func (c Caps) enabled() bool { return c.MaxOpen > 0 || c.MaxPerHour > 0 }

// ErrPhoneCapped matches every *CapError (errors.Is).
var ErrPhoneCapped = errors.New("too many STK pushes to this phone")

// CapError refuses a payment that would exceed a per-phone cap. Nothing was
// created or pushed; entry points answer "too many requests" with RetryAfter.
type CapError struct {
	Cap        string // "open" or "hourly"
	Limit      int
	RetryAfter time.Duration
}

func (e *CapError) Error() string {
	if e.Cap == "open" {
		return fmt.Sprintf("%s: %d payments already await this phone's answer", ErrPhoneCapped, e.Limit)
	}
	return fmt.Sprintf("%s: %d payments in the last hour", ErrPhoneCapped, e.Limit)
}

// Is makes errors.Is(err, ErrPhoneCapped) true.
func (e *CapError) Is(target error) bool { return target == ErrPhoneCapped }

// capOpenWindow: an open payment older than this (reconciliation expires
// them after FUNDIGO_PAYMENTS_FINAL_DEADLINE) no longer holds the phone.
const capOpenWindow = 24 * time.Hour

// openRetryAfter is what a caller is told to wait for an open slot: about
// the time a customer has to answer an STK prompt.
const openRetryAfter = 60 * time.Second

// errExists: the payment id is already taken (a retry of the same create).
var errExists = errors.New("payment exists")

// createWithinCaps inserts n unless one more push to n.Phone would exceed
// caps. The count and the insert share one transaction holding an advisory
// lock on the phone, so concurrent creates for one phone are counted one
// after the other and at most the cap gets through. A retry of an existing
// payment (same id) is errExists, never refused by a cap.
func createWithinCaps(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, caps Caps, n New) (Payment, error) {
	var p Payment
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('stk-phone:' || $1, 0))`, n.Phone); err != nil {
			return fmt.Errorf("lock phone: %w", err)
		}
		s := NewStore(tx)
		if _, err := s.Get(ctx, n.ID); err == nil {
			return errExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := checkCaps(ctx, tx, n.Phone, caps, n.CreatedAt); err != nil {
			return err
		}
		var err error
		p, err = s.Create(ctx, n)
		return err
	})
	return p, err
}

// checkCaps counts the phone's open payments and those of the last hour
// (index payments_phone_created) and returns a *CapError when one more
// would exceed caps.
func checkCaps(ctx context.Context, db DB, phone string, caps Caps, now time.Time) error {
	var (
		open, lastHour int
		oldest         *time.Time
	)
	err := db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status IN ('pending', 'awaiting_callback')),
			count(*) FILTER (WHERE created_at > $2::timestamptz - interval '1 hour'),
			min(created_at) FILTER (WHERE created_at > $2::timestamptz - interval '1 hour')
		FROM payments WHERE phone = $1 AND created_at > $2::timestamptz - $3::interval`,
		phone, now, capOpenWindow).Scan(&open, &lastHour, &oldest)
	if err != nil {
		return fmt.Errorf("count payments of phone: %w", err)
	}
	if caps.MaxOpen > 0 && open >= caps.MaxOpen {
		return &CapError{Cap: "open", Limit: caps.MaxOpen, RetryAfter: openRetryAfter}
	}
	if caps.MaxPerHour > 0 && lastHour >= caps.MaxPerHour {
		wait := time.Second
		if oldest != nil {
			wait = max(oldest.Add(time.Hour).Sub(now), time.Second)
		}
		return &CapError{Cap: "hourly", Limit: caps.MaxPerHour, RetryAfter: wait}
	}
	return nil
}
