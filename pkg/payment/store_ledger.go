package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LedgerEntry is money that moved, one per M-Pesa receipt.
type LedgerEntry struct {
	Receipt           string
	PaymentID         string
	CheckoutRequestID string
	AmountCents       int64
	TransactionDate   time.Time // zero if unknown
	// Channel is how the money came in: "stk" (default) or "c2b".
	Channel string
}

func (e LedgerEntry) channel() string {
	if e.Channel == "" {
		return "stk"
	}
	return e.Channel
}

// RecordReceipt inserts e unless its receipt is already recorded. It returns
// the payment the receipt belongs to (e.PaymentID when inserted or when it
// was recorded for the same payment before) and whether it was new.
func (s *Store) RecordReceipt(ctx context.Context, e LedgerEntry) (owner string, inserted bool, err error) {
	var txDate *time.Time
	if !e.TransactionDate.IsZero() {
		txDate = &e.TransactionDate
	}
	err = s.db.QueryRow(ctx, `
		INSERT INTO payment_ledger (mpesa_receipt, payment_id, checkout_request_id, amount_cents, transaction_date, channel)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6)
		ON CONFLICT (mpesa_receipt) DO NOTHING
		RETURNING payment_id::text`,
		e.Receipt, e.PaymentID, e.CheckoutRequestID, e.AmountCents, txDate, e.channel()).Scan(&owner)
	if err == nil {
		return owner, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", false, fmt.Errorf("record receipt for payment %s: %w", e.PaymentID, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT `+ledgerOwner+` FROM payment_ledger WHERE mpesa_receipt = $1`,
		e.Receipt).Scan(&owner); err != nil {
		return "", false, fmt.Errorf("find receipt owner for payment %s: %w", e.PaymentID, err)
	}
	return owner, false, nil
}

// CountReceipts returns how many ledger rows payment id has.
func (s *Store) CountReceipts(ctx context.Context, id string) (int, error) {
	uid, err := ParseID(id)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE payment_id = $1`, uid).Scan(&n); err != nil {
		return 0, fmt.Errorf("count receipts of payment %s: %w", id, err)
	}
	return n, nil
}

// ReceiptOwners returns the payment each of receipts is recorded for;
// receipts not in the ledger are absent from the map.
//
// The lookup is planned at each call for the ledger as it is then
// (pgx.QueryExecModeCacheDescribe: an unnamed statement, so no generic plan
// is cached): a plan cached by a connection while the ledger was empty and
// freshly analyzed is a sequential scan, which that connection kept as the
// ledger grew (tens of milliseconds per applier batch at 40,000 rows).
func (s *Store) ReceiptOwners(ctx context.Context, receipts []string) (map[string]string, error) {
	rows, err := s.db.Query(ctx, receiptOwnersSQL, pgx.QueryExecModeCacheDescribe, receipts)
	if err != nil {
		return nil, fmt.Errorf("find receipt owners: %w", err)
	}
	owners := make(map[string]string, len(receipts))
	return owners, scanOwners(rows, owners)
}

// ledgerOwner is who a ledger row belongs to: its payment id, or
// "payout:<id>" for money paid out (one ledger across channels), which
// never equals a payment id.
const ledgerOwner = `COALESCE(payment_id::text, 'payout:' || payout_id::text)`

const receiptOwnersSQL = `SELECT mpesa_receipt, ` + ledgerOwner + ` FROM payment_ledger
		WHERE mpesa_receipt = ANY($1::text[])`

// scanOwners reads (receipt, payment id) rows into owners and closes rows.
func scanOwners(rows pgx.Rows, owners map[string]string) error {
	defer rows.Close()
	for rows.Next() {
		var r, p string
		if err := rows.Scan(&r, &p); err != nil {
			return fmt.Errorf("scan receipt owner: %w", err)
		}
		owners[r] = p
	}
	return rows.Err()
}
