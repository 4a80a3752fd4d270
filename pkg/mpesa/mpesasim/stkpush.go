package mpesasim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
)

// txn is one accepted push. Guarded by Sim.mu.
type txn struct {
	merchantID string
	checkoutID string
	phone      string
	amount     int64
	behaviour  Behaviour
	finalAt    time.Time // when the customer "answers"
	receipt    string
	// trace is the push request's W3C trace context, sent back with the
	// callback (see traceHeaders).
	trace http.Header
}

// handleSTKPush validates like Daraja, records the push and schedules its
// callback according to the phone's behaviour.
func (s *Sim) handleSTKPush(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeRequest(w, r)
	if !ok {
		return
	}
	switch tt := str(body, "TransactionType"); tt {
	case "CustomerPayBillOnline", "CustomerBuyGoodsOnline":
	default:
		badRequest(w, "TransactionType")
		return
	}
	amount, err := strconv.ParseInt(str(body, "Amount"), 10, 64)
	if err != nil || amount < 1 || amount > 250000 {
		badRequest(w, "Amount")
		return
	}
	phone := str(body, "PhoneNumber")
	if !mpesa.ValidMSISDN(str(body, "PartyA")) {
		badRequest(w, "PartyA")
		return
	}
	if !mpesa.ValidMSISDN(phone) {
		badRequest(w, "PhoneNumber")
		return
	}
	if _, err := strconv.ParseUint(str(body, "PartyB"), 10, 64); err != nil {
		badRequest(w, "PartyB")
		return
	}
	callbackURL := str(body, "CallBackURL")
	if !validCallbackURL(callbackURL) {
		badRequest(w, "CallBackURL")
		return
	}
	if ref := str(body, "AccountReference"); ref == "" || utf8.RuneCountInString(ref) > mpesa.MaxAccountReference {
		badRequest(w, "AccountReference")
		return
	}
	if utf8.RuneCountInString(str(body, "TransactionDesc")) > mpesa.MaxTransactionDesc {
		badRequest(w, "TransactionDesc")
		return
	}

	s.mu.Lock()
	if s.take5xx() {
		s.mu.Unlock()
		writeBusy(w)
		return
	}
	now := s.cfg.NowFunc()
	s.seq++
	delay := s.cfg.CallbackDelay
	if s.faults.CallbackDelay != 0 {
		delay = s.faults.CallbackDelay
	}
	t := &txn{
		trace:      traceHeaders(r.Header),
		merchantID: fmt.Sprintf("%05d-%08d-1", 10000+s.seq%90000, s.seq),
		checkoutID: fmt.Sprintf("ws_CO_%s%06d", now.In(mpesa.Nairobi()).Format("02012006150405"), s.seq),
		phone:      phone,
		amount:     amount,
		behaviour:  BehaviourFor(phone),
		finalAt:    now.Add(delay),
		receipt:    receipt(s.seq),
	}
	s.txns[t.checkoutID] = t
	s.stats.Pushes++
	s.stats.PushesByPhone[phone]++
	copies := 1 + s.faults.DuplicateCallbacks
	var hang time.Duration
	if s.faults.Hang > 0 {
		s.faults.Hang--
		hang = s.faults.HangFor
	}
	s.mu.Unlock()

	s.log.Debug().Str(logging.FieldCheckoutRequestID, t.checkoutID).
		Str(logging.FieldMSISDN, logging.MaskMSISDN(phone)).Msg("stk push accepted")
	if t.behaviour.Callback {
		s.scheduleCallback(callbackURL, t, delay, copies)
	}
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
		}
	}
	msg := "Success. Request accepted for processing"
	writeJSON(w, http.StatusOK, map[string]string{
		"MerchantRequestID":   t.merchantID,
		"CheckoutRequestID":   t.checkoutID,
		"ResponseCode":        "0",
		"ResponseDescription": msg,
		"CustomerMessage":     msg,
	})
}

// receipt makes a unique, receipt-shaped id (10 upper-case alphanumerics).
func receipt(seq int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("SIM0000000")
	n := uint64(seq)*2654435761 + uint64(time.Now().UnixNano()%1000003)
	for i := len(b) - 1; i >= 3; i-- {
		b[i] = alphabet[n%36]
		n /= 36
	}
	return string(b)
}
