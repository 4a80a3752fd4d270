package payment

import (
	"fmt"
	"strings"

	"fundigo/pkg/mpesa"
)

// verdict is what applying one callback to one payment does, decided in Go
// (judge) and written by the caller: with the payment row locked, the
// conditional transitions of store.go hold by construction.
type verdict struct {
	outcome string
	// to is the new status, "" when the status does not change.
	to Status
	o  Outcome
	// setReceipt fills the receipt of a payment paid by query without one.
	setReceipt bool
	// ledger is set when the callback's receipt is new money for the ledger.
	ledger *LedgerEntry
}

// judge applies the callback rules to p:
//   - success on awaiting_callback: paid, unless the amount, phone or
//     receipt is wrong, which is needs_review; the receipt goes to the ledger;
//   - success on failed: needs_review (money moved after a failure);
//   - success on paid: nothing if the same receipt, the receipt recorded if
//     paid by query without one, needs_review if a different receipt;
//   - failure on awaiting_callback: failed with the mapped reason;
//   - failure on paid by query only (no receipt): needs_review (contradiction);
//   - anything else: nothing changes.
//
// receiptOwner is the payment the callback's receipt is already recorded
// for ("" if none).
func judge(p Payment, cb *mpesa.STKCallback, receiptOwner string) verdict {
	out := Outcome{ResultCode: cb.ResultCode, ResultDesc: cb.ResultDesc}
	if !cb.Success() {
		switch {
		case p.Status == AwaitingCallback:
			out.Reason = string(mpesa.ReasonFor(cb.ResultCode))
			return verdict{outcome: outcomeFailed, to: Failed, o: out}
		case p.Status == Paid && p.MpesaReceipt == "":
			out.Reason = "failure callback after stk query reported success"
			return verdict{outcome: outcomeNeedsReview, to: NeedsReview, o: out}
		case p.Status == Failed:
			return verdict{outcome: outcomeDuplicate}
		default:
			return verdict{outcome: outcomeIgnored}
		}
	}
	m := cb.Metadata
	out.Receipt = m.MpesaReceiptNumber
	problems := successProblems(p, m)
	sameReceiptAgain := false
	var ledger *LedgerEntry
	if m.MpesaReceiptNumber != "" {
		switch receiptOwner {
		case "":
			ledger = &LedgerEntry{Receipt: m.MpesaReceiptNumber, PaymentID: p.ID, CheckoutRequestID: cb.CheckoutRequestID,
				AmountCents: m.Amount, TransactionDate: m.TransactionDate}
		case p.ID:
			sameReceiptAgain = true
		default:
			problems = append(problems, "receipt already recorded for another payment")
		}
	}
	v := verdict{ledger: ledger, o: out}
	switch p.Status {
	case AwaitingCallback:
		if len(problems) > 0 {
			v.o.Reason = strings.Join(problems, "; ")
			v.outcome, v.to = outcomeNeedsReview, NeedsReview
			return v
		}
		v.outcome, v.to = outcomePaid, Paid
	case Failed:
		v.o.Reason = strings.Join(append([]string{"success after failure (" + p.FailureReason + ")"}, problems...), "; ")
		v.outcome, v.to = outcomeNeedsReview, NeedsReview
	case Paid:
		switch {
		case sameReceiptAgain || (m.MpesaReceiptNumber != "" && m.MpesaReceiptNumber == p.MpesaReceipt):
			v.outcome = outcomeDuplicate
		case p.MpesaReceipt == "" && len(problems) == 0:
			v.outcome, v.setReceipt = outcomeReceiptRecorded, true
		default:
			v.o.Reason = strings.Join(append([]string{"second success callback"}, problems...), "; ")
			v.outcome, v.to = outcomeNeedsReview, NeedsReview
		}
	default: // needs_review stays with the operator; the receipt is in the ledger
		v.outcome = outcomeIgnored
	}
	return v
}

// needsConfirmation reports whether v may not be applied on the word of a
// callback alone. Evidence before money: only a source in
// FUNDIGO_MPESA_ALLOWED_CIDRS (resolved behind FUNDIGO_TRUSTED_PROXIES), or
// Daraja itself answering an STK Push Query for the callback's
// CheckoutRequestID (Confirm, reconciliation), may
//   - make a payment paid, from any state;
//   - settle a payment that awaits its callback in any way (failed or
//     needs_review too): a forger holding the path token could otherwise fail
//     a customer's payment, or park it in needs_review so that the genuine
//     success is never applied.
//
// vouched is evidence.vouches for the callback. Verdicts that
// change nothing, and needs_review or a receipt recorded on a payment Daraja
// already settled (an operator looks; no money moves), need no confirmation.
func (v verdict) needsConfirmation(from Status, vouched bool) bool {
	if vouched {
		return false
	}
	return v.to == Paid || (from == AwaitingCallback && v.to != "")
}

// evidence is what stands behind a callback besides its own word: a trusted
// source, or Daraja's STK Push Query having reported its push paid.
type evidence struct {
	trusted       bool
	confirmedPaid bool
}

// vouches reports whether the evidence lets cb be applied as if trusted:
// Daraja's "paid" vouches for successes only.
func (e evidence) vouches(cb *mpesa.STKCallback) bool {
	return e.trusted || (e.confirmedPaid && cb.Success())
}

// refutes reports whether Daraja's "paid" contradicts cb, an untrusted
// failure for the same push (forged, or a sender's mistake): it is recorded
// as refuted and changes nothing.
func (e evidence) refutes(cb *mpesa.STKCallback) bool {
	return e.confirmedPaid && !e.trusted && !cb.Success()
}

// successProblems lists why a success callback cannot simply mark p paid.
func successProblems(p Payment, m mpesa.Metadata) []string {
	var problems []string
	switch {
	case !m.AmountOK:
		problems = append(problems, "amount missing or unreadable")
	case m.Amount <= 0:
		problems = append(problems, "amount not positive")
	case m.Amount != p.Amount*100:
		problems = append(problems, fmt.Sprintf("amount mismatch: paid %d.%02d, expected %d", m.Amount/100, m.Amount%100, p.Amount))
	}
	if m.PhoneNumber != p.Phone {
		problems = append(problems, "phone mismatch")
	}
	switch {
	case m.MpesaReceiptNumber == "":
		problems = append(problems, "no receipt")
	case !ValidReceipt(m.MpesaReceiptNumber):
		problems = append(problems, "receipt not in Daraja's format")
	}
	return problems
}

// ValidReceipt reports whether r has the form of an M-Pesa receipt
// (MpesaReceiptNumber / TransID): 10 uppercase letters or digits.
func ValidReceipt(r string) bool {
	if len(r) != 10 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// apply returns p after v (what the conditional UPDATE of v.to would give).
func (v verdict) apply(p Payment) Payment {
	switch v.to {
	case Paid:
		p.Status, p.ResultCode, p.ResultDesc, p.MpesaReceipt, p.FailureReason = Paid, v.o.ResultCode, v.o.ResultDesc, v.o.Receipt, ""
	case Failed:
		p.Status, p.ResultCode, p.ResultDesc, p.FailureReason = Failed, v.o.ResultCode, v.o.ResultDesc, v.o.Reason
	case NeedsReview:
		p.Status, p.ReviewReason = NeedsReview, v.o.Reason
		if v.o.ResultCode != "" {
			p.ResultCode = v.o.ResultCode
		}
		if v.o.ResultDesc != "" {
			p.ResultDesc = v.o.ResultDesc
		}
		if p.MpesaReceipt == "" {
			p.MpesaReceipt = v.o.Receipt
		}
	}
	if v.setReceipt && p.MpesaReceipt == "" {
		p.MpesaReceipt = v.o.Receipt
	}
	if v.to != "" || v.setReceipt {
		p.UpdatedAt = v.o.At
	}
	return p
}
