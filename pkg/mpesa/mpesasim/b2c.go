package mpesasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"fundigo/pkg/mpesa"
)

// B2C phone numbers with a scripted outcome; any other valid number is paid
// (PhoneSuccess among them).
const (
	// PhoneB2CInsufficientBalance fails with ResultCode 1.
	PhoneB2CInsufficientBalance = "254700003001"
	// PhoneB2CInitiatorInvalid fails with ResultCode 2001.
	PhoneB2CInitiatorInvalid = "254700003002"
	// PhoneB2CTimeoutCompleted gets a queue timeout; Transaction Status then
	// reports it Completed.
	PhoneB2CTimeoutCompleted = "254700003003"
	// PhoneB2CTimeoutFailed gets a queue timeout; Transaction Status then
	// reports it Failed.
	PhoneB2CTimeoutFailed = "254700003004"
	// PhoneB2CSilent is accepted and nothing more: no result, and status
	// queries are acknowledged but never answered.
	PhoneB2CSilent = "254700003998"
)

// payout is one accepted B2C request. Guarded by Sim.mu.
type payout struct {
	originatorID   string
	conversationID string
	phone          string
	amount         int64
	code, desc     string // the outcome
	completed      bool   // money moved
	receipt        string
	at             time.Time
	statusAnswer   bool // Transaction Status answers about it
}

func (s *Sim) b2cOutcome(p *payout, credentialOK bool) (result, timeout bool) {
	p.code, p.desc, p.statusAnswer = "0", "The service request is processed successfully.", true
	switch {
	case !credentialOK:
		p.code, p.desc = "2001", "The initiator information is invalid."
	case p.phone == PhoneB2CInsufficientBalance:
		p.code, p.desc = "1", "The balance is insufficient for the transaction."
	case p.phone == PhoneB2CInitiatorInvalid:
		p.code, p.desc = "2001", "The initiator information is invalid."
	case p.phone == PhoneB2CTimeoutCompleted:
		p.completed = true
		return false, true
	case p.phone == PhoneB2CTimeoutFailed:
		p.code, p.desc = "1", "The balance is insufficient for the transaction."
		return false, true
	case p.phone == PhoneB2CSilent:
		p.statusAnswer = false
		return false, false
	}
	p.completed = p.code == "0"
	return true, false
}

// handleB2C is POST /mpesa/b2c/v{1,3}/paymentrequest.
func (s *Sim) handleB2C(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeAuthed(w, r)
	if !ok {
		return
	}
	orig := str(body, "OriginatorConversationID")
	s.mu.Lock()
	if orig != "" {
		s.stats.B2CByOriginator[orig]++
	}
	s.stats.B2CRequests++
	s.mu.Unlock()
	if orig == "" || len(orig) > 128 {
		badRequest(w, "OriginatorConversationID")
		return
	}
	if cmd := str(body, "CommandID"); cmd != "BusinessPayment" && cmd != "SalaryPayment" && cmd != "PromotionPayment" {
		badRequest(w, "CommandID")
		return
	}
	amount, err := strconv.ParseInt(str(body, "Amount"), 10, 64)
	if err != nil || amount < 10 || amount > 250000 {
		badRequest(w, "Amount")
		return
	}
	phone := str(body, "PartyB")
	if !mpesa.ValidMSISDN(phone) {
		badRequest(w, "PartyB")
		return
	}
	resultURL, timeoutURL := str(body, "ResultURL"), str(body, "QueueTimeOutURL")
	if !validCallbackURL(resultURL) {
		badRequest(w, "ResultURL")
		return
	}
	if !validCallbackURL(timeoutURL) {
		badRequest(w, "QueueTimeOutURL")
		return
	}
	credOK := s.credentialOK(str(body, "InitiatorName"), str(body, "SecurityCredential"))

	s.mu.Lock()
	if s.take5xx() {
		s.mu.Unlock()
		writeBusy(w)
		return
	}
	if _, dup := s.payouts[orig]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, mpesa.CodeDuplicateOriginator, "Duplicate OriginatorConversationID.")
		return
	}
	s.seq++
	now := s.cfg.NowFunc()
	p := &payout{originatorID: orig, conversationID: conversationID(now, s.seq),
		phone: phone, amount: amount, receipt: receipt(s.seq), at: now.Add(s.delay())}
	result, timeout := s.b2cOutcome(p, credOK)
	s.payouts[orig] = p
	s.mu.Unlock()

	if result {
		s.post(resultURL, p.originatorID, B2CResultBody(p.originatorID, p.conversationID, p.code, p.desc, p.amount, p.receipt, p.phone, p.at))
	}
	if timeout {
		s.post(timeoutURL, p.originatorID, B2CTimeoutBody(p.originatorID, p.conversationID))
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"ConversationID": p.conversationID, "OriginatorConversationID": orig,
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully.",
	})
}

// delay is the answer delay. Caller holds s.mu.
func (s *Sim) delay() time.Duration {
	if s.faults.CallbackDelay != 0 {
		return s.faults.CallbackDelay
	}
	return s.cfg.CallbackDelay
}

// post sends body to url after the answer delay, in the background.
func (s *Sim) post(url, id string, body []byte) {
	s.mu.Lock()
	delay := s.delay()
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-time.After(delay):
		case <-s.ctx.Done():
			return
		}
		s.deliver(url, id, body, nil)
	}()
}

type param struct {
	Key   string          `json:"Key"`
	Value json.RawMessage `json:"Value,omitempty"`
}

func quote(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

// B2CResultBody renders a B2C result as Daraja does: numbers as numbers,
// ResultParameters only on success, ReferenceData as an object.
func B2CResultBody(orig, conv, code, desc string, amount int64, receiptNo, phone string, at time.Time) []byte {
	res := map[string]any{
		"ResultType": 0, "ResultDesc": desc, "OriginatorConversationID": orig, "ConversationID": conv,
		"TransactionID": receiptNo,
		"ReferenceData": map[string]any{"ReferenceItem": map[string]string{"Key": "QueueTimeoutURL", "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}},
	}
	if n, err := strconv.Atoi(code); err == nil {
		res["ResultCode"] = n
	} else {
		res["ResultCode"] = code
	}
	if code == "0" {
		res["ResultParameters"] = map[string]any{"ResultParameter": []param{
			{Key: "TransactionAmount", Value: json.RawMessage(strconv.FormatInt(amount, 10))},
			{Key: "TransactionReceipt", Value: quote(receiptNo)},
			{Key: "B2CRecipientIsRegisteredCustomer", Value: quote("Y")},
			{Key: "B2CChargesPaidAccountAvailableFunds", Value: json.RawMessage("-4510.00")},
			{Key: "ReceiverPartyPublicName", Value: quote(phone + " - Wanjiru Kamau")},
			{Key: "TransactionCompletedDateTime", Value: quote(mpesa.FormatCompletedTime(at))},
			{Key: "B2CUtilityAccountAvailableFunds", Value: json.RawMessage("10116.00")},
			{Key: "B2CWorkingAccountAvailableFunds", Value: json.RawMessage("900000.00")},
		}}
	}
	b, _ := json.Marshal(map[string]any{"Result": res})
	return b
}

// B2CTimeoutBody renders a queue timeout notification (Daraja publishes no
// sample; integrators see a Result envelope naming the request).
func B2CTimeoutBody(orig, conv string) []byte {
	b, _ := json.Marshal(map[string]any{"Result": map[string]any{
		"ResultType": 0, "ResultCode": "SVC0403", "ResultDesc": "The request timed out while awaiting processing.",
		"OriginatorConversationID": orig, "ConversationID": conv, "TransactionID": "",
	}})
	return b
}

// conversationID is Daraja's ConversationID of request number seq at now.
func conversationID(now time.Time, seq int) string {
	return fmt.Sprintf("AG_%s_%014d", now.In(mpesa.Nairobi()).Format("20060102"), seq)
}
