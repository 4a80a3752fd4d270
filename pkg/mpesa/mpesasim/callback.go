package mpesasim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
)

// scheduleCallback POSTs the outcome of t to url after delay, copies times.
// Like Daraja, a failed delivery is not retried.
func (s *Sim) scheduleCallback(url string, t *txn, delay time.Duration, copies int) {
	body := CallbackBody(t.merchantID, t.checkoutID, t.behaviour.ResultCode, t.behaviour.ResultDesc,
		t.amount, t.receipt, t.phone, t.finalAt)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-time.After(delay):
		case <-s.ctx.Done():
			return
		}
		for range copies {
			s.deliver(url, t.checkoutID, body, t.trace)
		}
	}()
}

// traceHeaders are the W3C trace context headers of a push request. Daraja
// propagates no trace context; the simulator sends the push's back with its
// callback, so a development trace runs from the payment request through
// the callback (docs/ARCHITECTURE.md, "Tracing and error reports").
func traceHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := h.Get(k); v != "" && len(v) <= 512 {
			out.Set(k, v)
		}
	}
	return out
}

func (s *Sim) deliver(url, checkoutID string, body []byte, trace http.Header) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	ok := false
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		for k, v := range trace {
			req.Header[k] = v
		}
		var resp *http.Response
		resp, err = s.cfg.HTTPClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
			ok = resp.StatusCode/100 == 2
			if !ok {
				err = fmt.Errorf("http %d", resp.StatusCode)
			}
		}
	}
	s.mu.Lock()
	if ok {
		s.stats.CallbacksSent++
	} else {
		s.stats.CallbacksFailed++
	}
	s.mu.Unlock()
	if !ok {
		// The callback URL carries the webhook's secret path token: keep it out of the log.
		s.log.Warn().Err(mpesa.StripURL(err)).Str(logging.FieldCheckoutRequestID, checkoutID).Msg("callback not delivered")
	}
}

// CallbackBody renders an STK callback shaped like Daraja's: numbers as JSON
// numbers, Amount with two decimals, and on success a valueless Balance item
// between the others (so positional parsers break, as they do in production).
func CallbackBody(merchantID, checkoutID, resultCode, resultDesc string, amount int64, receipt, phone string, at time.Time) []byte {
	type item struct {
		Name  string          `json:"Name"`
		Value json.RawMessage `json:"Value,omitempty"`
	}
	cb := map[string]any{
		"MerchantRequestID": merchantID,
		"CheckoutRequestID": checkoutID,
		"ResultDesc":        resultDesc,
	}
	if n, err := strconv.Atoi(resultCode); err == nil {
		cb["ResultCode"] = n
	} else {
		cb["ResultCode"] = resultCode
	}
	if mpesa.IsSuccess(resultCode) {
		cb["CallbackMetadata"] = map[string]any{"Item": []item{
			{Name: "Amount", Value: json.RawMessage(strconv.FormatInt(amount, 10) + ".00")},
			{Name: "MpesaReceiptNumber", Value: json.RawMessage(strconv.Quote(receipt))},
			{Name: "Balance"},
			{Name: "TransactionDate", Value: json.RawMessage(mpesa.FormatTimestamp(at))},
			{Name: "PhoneNumber", Value: json.RawMessage(phone)},
		}}
	}
	b, _ := json.Marshal(map[string]any{"Body": map[string]any{"stkCallback": cb}})
	return b
}
