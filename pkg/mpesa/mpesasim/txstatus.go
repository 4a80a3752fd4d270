package mpesasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"fundigo/pkg/mpesa"
)

// handleTxStatus is POST /mpesa/transactionstatus/v1/query: acknowledged
// with the query's own ids, answered at its ResultURL after the delay (not
// at all for PhoneB2CSilent). An unknown transaction gets a failed query
// result (ResultCode 2032) without parameters.
func (s *Sim) handleTxStatus(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeAuthed(w, r)
	if !ok {
		return
	}
	if str(body, "CommandID") != "TransactionStatusQuery" {
		badRequest(w, "CommandID")
		return
	}
	orig, txID := str(body, "OriginalConversationID"), str(body, "TransactionID")
	if orig == "" && txID == "" {
		badRequest(w, "OriginalConversationID")
		return
	}
	resultURL := str(body, "ResultURL")
	if !validCallbackURL(resultURL) {
		badRequest(w, "ResultURL")
		return
	}
	credOK := s.credentialOK(str(body, "Initiator"), str(body, "SecurityCredential"))
	s.mu.Lock()
	if s.take5xx() {
		s.mu.Unlock()
		writeBusy(w)
		return
	}
	s.stats.StatusQueries++
	s.seq++
	now := s.cfg.NowFunc()
	qOrig := fmt.Sprintf("%05d-%08d-1", 10000+s.seq%90000, s.seq)
	qConv := conversationID(now, s.seq)
	var p *payout
	if orig != "" {
		p = s.payouts[orig]
	} else {
		for _, c := range s.payouts {
			if c.receipt == txID && c.completed {
				p = c
			}
		}
	}
	var cp payout
	if p != nil {
		cp = *p
	}
	s.mu.Unlock()

	switch {
	case !credOK:
		s.post(resultURL, qOrig, statusFailureBody(qOrig, qConv, "2001", "The initiator information is invalid."))
	case p == nil:
		s.post(resultURL, qOrig, statusFailureBody(qOrig, qConv, "2032", "The transaction does not exist."))
	case cp.statusAnswer:
		s.post(resultURL, qOrig, StatusResultBody(qOrig, qConv, &cp))
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"OriginatorConversationID": qOrig, "ConversationID": qConv,
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully.",
	})
}

// StatusResultBody renders a Transaction Status result about p. The
// timeout-then-failed number gets 1.0-era keys with spaces and a numeric
// Amount; others the 3.0 spelling with string values and a valueless
// TransactionReason.
func StatusResultBody(qOrig, qConv string, p *payout) []byte {
	status := "Completed"
	receiptNo := p.receipt
	if !p.completed {
		status, receiptNo = "Failed", ""
	}
	key := func(k3, k1 string) string {
		if p.phone == PhoneB2CTimeoutFailed {
			return k1
		}
		return k3
	}
	amount := quote(strconv.FormatInt(p.amount, 10))
	if p.phone == PhoneB2CTimeoutFailed {
		amount = json.RawMessage(strconv.FormatInt(p.amount, 10))
	}
	params := []param{
		{Key: key("DebitPartyName", "Debit Party Name"), Value: quote("600000 - FundiGO")},
		{Key: key("CreditPartyName", "Credit Party Name"), Value: quote(p.phone[:4] + "*****" + p.phone[9:] + " - Wanjiru Kamau")},
		{Key: key("OriginatorConversationID", "Originator Conversation ID"), Value: quote(p.originatorID)},
		{Key: key("InitiatedTime", "Initiated Time"), Value: quote(p.at.In(mpesa.Nairobi()).Format(mpesa.TimestampLayout))},
		{Key: key("DebitAccountType", "Debit Account Type"), Value: quote("Utility Account")},
		{Key: key("DebitPartyCharges", "Debit Party Charges"), Value: quote("Fee For B2C Payment|KES|22.40")},
		{Key: key("TransactionReason", "Transaction Reason")},
		{Key: key("ReasonType", "Reason Type"), Value: quote("Business Payment to Customer via API")},
		{Key: key("TransactionStatus", "Transaction Status"), Value: quote(status)},
		{Key: key("FinalisedTime", "Finalised Time"), Value: quote(mpesa.FormatCompletedTime(p.at))},
		{Key: "Amount", Value: amount},
		{Key: key("ConversationID", "Conversation ID"), Value: quote(p.conversationID)},
		{Key: key("ReceiptNo", "Receipt No"), Value: quote(receiptNo)},
	}
	b, _ := json.Marshal(map[string]any{"Result": map[string]any{
		"ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
		"OriginatorConversationID": qOrig, "ConversationID": qConv, "TransactionID": receiptNo,
		"ResultParameters": map[string]any{"ResultParameter": params},
		"ReferenceData":    map[string]any{"ReferenceItem": []map[string]string{{"Key": "Occasion"}}},
	}})
	return b
}

func statusFailureBody(qOrig, qConv, code, desc string) []byte {
	n, _ := strconv.Atoi(code)
	b, _ := json.Marshal(map[string]any{"Result": map[string]any{
		"ResultType": 0, "ResultCode": n, "ResultDesc": desc,
		"OriginatorConversationID": qOrig, "ConversationID": qConv, "TransactionID": "",
	}})
	return b
}
