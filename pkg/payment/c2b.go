package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// C2BKey is the inbox natural key of a C2B confirmation: its TransID (the
// receipt).
func C2BKey(body []byte) (string, error) {
	p, err := mpesa.ParseC2B(body)
	if err != nil {
		return "", err
	}
	return p.TransID, nil
}

// ValidateC2B is the read-only answer to a C2B validation: mpesa.C2BAccepted
// when the account (trimmed, upper-cased) names a Pay Bill payment awaiting
// its money and the amount is that payment's, C2BInvalidAmount when the
// amount differs, C2BInvalidAccount otherwise. It marks nothing paid.
func ValidateC2B(ctx context.Context, db DB, p *mpesa.C2BPayment) (string, error) {
	var amounts []int64
	rows, err := db.Query(ctx, `SELECT amount FROM payments WHERE account_reference = $1 AND status = 'awaiting_payment'`,
		p.AccountRef())
	if err == nil {
		amounts, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil {
		return "", fmt.Errorf("validate c2b payment: %w", err)
	}
	if len(amounts) == 0 {
		return mpesa.C2BInvalidAccount, nil
	}
	for _, a := range amounts {
		if a*100 == p.AmountCents {
			return mpesa.C2BAccepted, nil
		}
	}
	return mpesa.C2BInvalidAmount, nil
}

// C2B confirmation outcomes.
const (
	C2BPaid        = "paid"
	C2BDuplicate   = "duplicate"   // the receipt is in the ledger already (this or another channel)
	C2BUnallocated = "unallocated" // no payment matched: kept for an operator
)

// ApplyC2B applies one stored C2B confirmation, once (the inbox row is
// marked applied in the same transaction). Money has moved, so nothing is
// dropped: a receipt already in the one ledger (an STK payment also
// reported on the C2B URL, a redelivery) changes nothing; a confirmation
// matching a Pay Bill payment awaiting exactly this amount pays it; any
// other goes to the unallocated funds list.
func ApplyC2B(ctx context.Context, d Deps, inboxID int64) (string, error) {
	var outcome string
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		row, err := inbox.Get(ctx, tx, inboxID)
		if err != nil {
			return err
		}
		c, err := mpesa.ParseC2B(row.Body)
		if err != nil {
			return fmt.Errorf("inbox row %d: %w", inboxID, err)
		}
		fresh, err := inbox.MarkApplied(ctx, tx, inboxID, d.now())
		if err != nil {
			return err
		}
		if !fresh {
			outcome = C2BDuplicate
			return nil
		}
		outcome, err = applyC2B(ctx, d, tx, inboxID, c)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("apply c2b confirmation %d: %w", inboxID, err)
	}
	return outcome, nil
}

func applyC2B(ctx context.Context, d Deps, tx pgx.Tx, inboxID int64, c *mpesa.C2BPayment) (string, error) {
	ps := NewStore(tx)
	log := d.Log.With().Int64("inbox_id", inboxID).Logger()
	owners, err := ps.ReceiptOwners(ctx, []string{c.TransID})
	if err != nil {
		return "", err
	}
	if _, ok := owners[c.TransID]; ok {
		log.Info().Msg("c2b confirmation of a receipt already in the ledger; no-op")
		return C2BDuplicate, nil
	}
	var id string
	err = tx.QueryRow(ctx, `SELECT id::text FROM payments WHERE account_reference = $1 AND status = 'awaiting_payment'
		AND amount * 100 = $2 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`, c.AccountRef(), c.AmountCents).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return C2BUnallocated, insertUnallocated(ctx, tx, inboxID, c, log)
	}
	if err != nil {
		return "", fmt.Errorf("match c2b confirmation: %w", err)
	}
	return C2BPaid, payByC2B(ctx, d, tx, id, c)
}

// payByC2B records c's receipt for payment id (awaiting_payment, locked)
// and marks it paid with its payment.paid event.
func payByC2B(ctx context.Context, d Deps, tx pgx.Tx, id string, c *mpesa.C2BPayment) error {
	ps := NewStore(tx)
	var at time.Time
	if !c.TransTime.IsZero() {
		at = c.TransTime
	}
	owner, inserted, err := ps.RecordReceipt(ctx, LedgerEntry{Receipt: c.TransID, PaymentID: id, AmountCents: c.AmountCents,
		TransactionDate: at, Channel: "c2b"})
	if err != nil {
		return err
	}
	if !inserted && owner != id {
		return fmt.Errorf("receipt of payment %s belongs to %s: %w", id, owner, store.ErrConflict)
	}
	p, err := ps.transition(ctx, id, []Status{AwaitingPayment}, `
		status = 'paid', result_code = '0', result_desc = 'Paid by Pay Bill', mpesa_receipt = $3,
		failure_reason = NULL, updated_at = $4`, c.TransID, d.now())
	if err != nil {
		return fmt.Errorf("mark payment %s paid by pay bill: %w", id, err)
	}
	d.Log.Info().Str(logging.FieldPaymentID, id).Msg("pay bill payment matched")
	return emit(ctx, tx, p)
}

func insertUnallocated(ctx context.Context, tx pgx.Tx, inboxID int64, c *mpesa.C2BPayment, log zerolog.Logger) error {
	var tt *time.Time
	if !c.TransTime.IsZero() {
		tt = &c.TransTime
	}
	_, err := tx.Exec(ctx, `INSERT INTO unallocated_funds (trans_id, inbox_id, bill_ref_number, account_reference, amount_cents,
			business_short_code, msisdn, payer_name, trans_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (trans_id) DO NOTHING`,
		c.TransID, inboxID, c.BillRefNumber, c.AccountRef(), c.AmountCents, c.BusinessShortCode, c.MSISDN, c.PayerName(), tt)
	if err != nil {
		return fmt.Errorf("keep unallocated c2b funds: %w", err)
	}
	log.Warn().Msg("c2b confirmation matches no pay bill payment; kept as unallocated funds")
	return nil
}

// Unallocated is money received by Pay Bill that matched no payment.
type Unallocated struct {
	TransID            string     `json:"trans_id"`
	BillRefNumber      string     `json:"bill_ref_number"`
	AccountReference   string     `json:"account_reference"`
	AmountCents        int64      `json:"amount_cents"`
	MSISDN             string     `json:"msisdn"` // opaque: masked or hashed by Daraja
	PayerName          string     `json:"payer_name"`
	TransTime          *time.Time `json:"trans_time"`
	ReceivedAt         time.Time  `json:"received_at"`
	AllocatedPaymentID *string    `json:"allocated_payment_id"`
	AllocatedAt        *time.Time `json:"allocated_at"`
}

// ListUnallocated returns up to limit unallocated funds not yet allocated,
// oldest first; receipts credited meanwhile through another channel (an
// STK callback arriving after its C2B copy) are left out.
func ListUnallocated(ctx context.Context, db DB, limit int) ([]Unallocated, error) {
	rows, err := db.Query(ctx, `SELECT trans_id, bill_ref_number, account_reference, amount_cents, msisdn, payer_name,
			trans_time, received_at, allocated_payment_id::text, allocated_at
		FROM unallocated_funds u
		WHERE allocated_at IS NULL AND NOT EXISTS (SELECT 1 FROM payment_ledger l WHERE l.mpesa_receipt = u.trans_id)
		ORDER BY received_at, trans_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list unallocated funds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Unallocated, error) {
		var u Unallocated
		err := r.Scan(&u.TransID, &u.BillRefNumber, &u.AccountReference, &u.AmountCents, &u.MSISDN, &u.PayerName,
			&u.TransTime, &u.ReceivedAt, &u.AllocatedPaymentID, &u.AllocatedAt)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list unallocated funds: %w", err)
	}
	return out, nil
}

// ErrNotAllocatable: the funds are allocated already, or the payment is
// not a Pay Bill payment awaiting exactly this amount.
var ErrNotAllocatable = errors.New("funds cannot be allocated to this payment")

// Allocate credits unallocated funds transID to payment paymentID (a Pay
// Bill payment awaiting the same amount), by operator `by`: the receipt
// goes to the ledger and the payment is paid, once.
func Allocate(ctx context.Context, d Deps, transID, paymentID, by string) (Payment, error) {
	if _, err := ParseID(paymentID); err != nil {
		return Payment{}, err
	}
	var p Payment
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		var c mpesa.C2BPayment
		var tt *time.Time
		err := tx.QueryRow(ctx, `SELECT trans_id, amount_cents, trans_time FROM unallocated_funds
			WHERE trans_id = $1 AND allocated_at IS NULL FOR UPDATE`, transID).Scan(&c.TransID, &c.AmountCents, &tt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("unallocated funds %.40q: %w", transID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock unallocated funds: %w", err)
		}
		if tt != nil {
			c.TransTime = *tt
		}
		target, err := NewStore(tx).GetForUpdate(ctx, paymentID)
		if err != nil {
			return err
		}
		if target.Status != AwaitingPayment || target.Amount*100 != c.AmountCents {
			return fmt.Errorf("allocate %s to payment %s: %w", transID, paymentID, ErrNotAllocatable)
		}
		if err := payByC2B(ctx, d, tx, paymentID, &c); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE unallocated_funds SET allocated_payment_id = $2, allocated_at = $3, allocated_by = $4
			WHERE trans_id = $1`, transID, target.ID, d.now(), by); err != nil {
			return fmt.Errorf("mark funds allocated: %w", err)
		}
		p, err = NewStore(tx).Get(ctx, paymentID)
		return err
	})
	return p, err
}
