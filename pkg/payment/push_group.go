package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// PushConfig groups the writes of concurrent STK pushes
// (FUNDIGO_PAYMENTS_PUSH_WINDOW, FUNDIGO_PAYMENTS_PUSH_BATCH).
type PushConfig struct {
	// Window is how long the first push of a group waits for others before
	// its write; 0 writes every push alone.
	Window time.Duration
	// MaxBatch closes a group early (default 64).
	MaxBatch int
}

// Pusher sends STK pushes (Push) with the two writes around each Daraja
// call grouped across the pushes running at once in this process: the
// "push started" marks of a group are one UPDATE (one commit), and the
// accepted pushes of a group are one transaction (checkout locks, one
// multi-row UPDATE, one orphan lookup, one multi-row outbox insert). Every
// guarantee of the single push holds per payment: a payment is started by
// at most one caller, and an accepted group that fails is retried one
// payment per transaction, so one bad row fails only its own push. One per
// process; safe for concurrent use.
type Pusher struct {
	d      Deps
	begin  store.Group[uuid.UUID, Payment]
	accept store.Group[acceptedPush, struct{}]
}

// acceptedPush is a push Daraja accepted, to be recorded.
type acceptedPush struct {
	p   Payment
	res mpesa.PushResult
	log zerolog.Logger
}

// NewPusher returns a Pusher over d.
func NewPusher(d Deps, cfg PushConfig) *Pusher {
	pu := &Pusher{d: d}
	pu.begin = store.Group[uuid.UUID, Payment]{Window: cfg.Window, MaxBatch: cfg.MaxBatch, Run: pu.beginPushes}
	pu.accept = store.Group[acceptedPush, struct{}]{Window: cfg.Window, MaxBatch: cfg.MaxBatch, Run: pu.acceptPushes}
	return pu
}

// beginPushes is BeginPush for a group: pending with no push started ->
// push started, one statement. A payment that is not startable, and any
// repeat of an id within the group, gets store.ErrStaleTransition (do not
// send).
func (pu *Pusher) beginPushes(ctx context.Context, ids []uuid.UUID) ([]Payment, []error) {
	out, errs := make([]Payment, len(ids)), make([]error, len(ids))
	started, err := collectPayments(pu.d.Pool.Query(ctx, beginPushSQL, ids, pu.d.now()))
	byID := make(map[string]Payment, len(started))
	for _, p := range started {
		byID[p.ID] = p // id::text: the canonical form uuid.UUID.String gives
	}
	for i, id := range ids {
		p, ok := byID[id.String()]
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("begin push of payment %s: %w", id, err)
		case !ok:
			errs[i] = fmt.Errorf("begin push of payment %s: %w", id, store.ErrStaleTransition)
		default:
			out[i] = p
			delete(byID, id.String()) // a repeat of id in this group must not send too
		}
	}
	return out, errs
}

// acceptPushes records a group of accepted pushes in one transaction; if
// that fails, each is recorded in a transaction of its own, so each caller
// gets its own push's result.
func (pu *Pusher) acceptPushes(ctx context.Context, items []acceptedPush) ([]struct{}, []error) {
	out, errs := make([]struct{}, len(items)), make([]error, len(items))
	err := store.WithTx(ctx, pu.d.Pool, func(tx pgx.Tx) error { return recordAcceptedIn(ctx, pu.d, tx, items) })
	for i := range items {
		if err != nil && len(items) > 1 {
			errs[i] = store.WithTx(ctx, pu.d.Pool, func(tx pgx.Tx) error { return recordAcceptedIn(ctx, pu.d, tx, items[i:i+1]) })
		} else {
			errs[i] = err
		}
		if errs[i] == nil {
			items[i].log.Info().Msg("stk push accepted") // after its commit
		}
	}
	return out, errs
}

// recordAcceptedIn stores Daraja's ids of accepted pushes in tx: under the
// locks of their CheckoutRequestIDs, pending -> awaiting_callback for each,
// their payment.awaiting_callback events, and the orphan callbacks that beat
// this write, applied now (read under those locks, so none filed before is
// missed and none can be filed until commit). A push settled meanwhile as
// ambiguous (a concurrent run of its task, or expiry) keeps the ids
// (LinkCheckout): otherwise its callbacks could only be matched by phone and
// amount, failures not at all.
func recordAcceptedIn(ctx context.Context, d Deps, tx pgx.Tx, items []acceptedPush) error {
	n := len(items)
	ids, merchants, checkouts := make([]string, n), make([]string, n), make([]string, n)
	for i, it := range items {
		ids[i], merchants[i], checkouts[i] = it.p.ID, it.res.MerchantRequestID, it.res.CheckoutRequestID
	}
	at := d.now()
	var b pgx.Batch
	b.Queue(lockCheckoutsSQL, checkouts)
	b.Queue(`UPDATE payments SET status = 'awaiting_callback', merchant_request_id = nullif(u.mid, ''),
			checkout_request_id = nullif(u.cid, ''), push_ambiguous = false, pushed_at = $4, updated_at = $4
		FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(pid, mid, cid)
		WHERE payments.id = u.pid AND payments.status = 'pending'
		RETURNING `+paymentColumns, ids, merchants, checkouts, at)
	b.Queue(`SELECT `+orphanColumns+` FROM payment_orphans o `+openOrphansWhere, checkouts)
	br := tx.SendBatch(ctx, &b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("lock %d checkout request ids: %w", n, err)
	}
	awaiting, err := collectPayments(br.Query())
	if err != nil {
		br.Close()
		return fmt.Errorf("mark %d payments awaiting callback: %w", n, err)
	}
	orphans, err := collectOrphans(br.Query())
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("mark %d payments awaiting callback: %w", n, cerr)
	}
	if err != nil {
		return err
	}
	if err := emitAwaiting(ctx, tx, awaiting...); err != nil {
		return err
	}
	marked := make(map[string]bool, len(awaiting))
	for _, p := range awaiting {
		marked[p.ID] = true
	}
	logs := make(map[string]zerolog.Logger, n) // by CheckoutRequestID, for the orphans
	for _, it := range items {
		if !marked[it.p.ID] {
			_, err := NewStore(tx).LinkCheckout(ctx, it.p.ID, it.res.CheckoutRequestID, it.res.MerchantRequestID, at)
			if errors.Is(err, store.ErrStaleTransition) {
				continue // a callback already linked it
			}
			if err != nil {
				return err
			}
		}
		logs[it.res.CheckoutRequestID] = it.log
	}
	for _, o := range orphans {
		log, ok := logs[o.CheckoutRequestID]
		if !ok {
			continue // its push was settled by a callback already
		}
		cb, err := mpesa.ParseCallback(o.Body)
		if err != nil {
			// Cannot happen (it was parsed before it became an orphan); if it
			// does, the orphan stays open and reconciliation reports it.
			log.Error().Err(err).Int64("inbox_id", o.InboxID).Msg("orphan stk callback unreadable; left for the operator")
			continue
		}
		if err := applyOrphan(ctx, d, tx, log, o, cb, evidence{trusted: o.Trusted}); err != nil {
			return err
		}
	}
	return nil
}
