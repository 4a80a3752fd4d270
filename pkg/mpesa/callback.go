package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxCallbackBytes is the largest callback body accepted. Real STK callbacks
// are well under 1 KiB; the cap bounds memory per request.
const MaxCallbackBytes = 64 << 10

// InboxRouteSTK names STK callbacks in the webhook inbox and the quarantine;
// every path that stores a callback (the webhook, the Celery drop-in) and
// every reader (the payments worker, reconciliation) uses it.
const InboxRouteSTK = "mpesa.stk"

// ErrInvalidCallback is returned by ParseCallback when the body is not an STK
// callback: not JSON or not UTF-8, too large, too deep, without
// Body.stkCallback.CheckoutRequestID / ResultCode, or with a field outside its
// bounds (callback_validate.go).
var ErrInvalidCallback = errors.New("mpesa: invalid stk callback")

// STKCallback is one STK Push result as POSTed by Daraja to the CallBackURL.
// Only the fields are kept; the raw body is stored verbatim by the caller.
type STKCallback struct {
	MerchantRequestID string
	CheckoutRequestID string
	// ResultCode is the code as text: "0" on success; numbers and strings
	// ("SFC_IC0003") are both accepted.
	ResultCode string
	// ResultDesc is stored verbatim; never branch on it (its text drifts).
	ResultDesc string
	// Metadata is only present on success.
	Metadata Metadata
}

// Success reports whether the callback says the money moved.
func (c *STKCallback) Success() bool { return IsSuccess(c.ResultCode) }

// Metadata holds the CallbackMetadata items, read by Name. A missing or
// unreadable item leaves its field zero and its ...OK flag false, so the
// caller can tell "absent" from "zero" and send the payment to review.
type Metadata struct {
	Amount   int64 // cents; may be negative or fractional in a forged body
	AmountOK bool

	MpesaReceiptNumber string

	TransactionDate time.Time // Africa/Nairobi; zero when absent or unreadable

	// PhoneNumber is normalised to 254XXXXXXXXX when possible, else as sent.
	PhoneNumber string

	// Balance is the raw Balance text if one was sent; often absent or valueless.
	Balance string
}

// ParseCallback decodes an STK callback body. It never panics, whatever the
// input (fuzzed): oversized or deeply nested bodies and anything that is not
// an STK callback return an error wrapping ErrInvalidCallback.
func ParseCallback(body []byte) (*STKCallback, error) {
	if len(body) > MaxCallbackBytes {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrInvalidCallback, len(body), MaxCallbackBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: body is not UTF-8", ErrInvalidCallback)
	}
	if cb, ok := parseCallbackFast(body); ok {
		return cb, nil
	}
	return parseCallbackReference(body)
}

// parseCallbackReference is ParseCallback with encoding/json, for every
// body the fast path does not take (and for every error).
func parseCallbackReference(body []byte) (*STKCallback, error) {
	var env struct {
		Body *struct {
			STKCallback *struct {
				MerchantRequestID FlexString  `json:"MerchantRequestID"`
				CheckoutRequestID FlexString  `json:"CheckoutRequestID"`
				ResultCode        *FlexString `json:"ResultCode"`
				ResultDesc        FlexString  `json:"ResultDesc"`
				CallbackMetadata  *struct {
					Item []struct {
						Name  string          `json:"Name"`
						Value json.RawMessage `json:"Value"`
					} `json:"Item"`
				} `json:"CallbackMetadata"`
			} `json:"stkCallback"`
		} `json:"Body"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCallback, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidCallback)
	}
	if env.Body == nil || env.Body.STKCallback == nil {
		return nil, fmt.Errorf("%w: no Body.stkCallback", ErrInvalidCallback)
	}
	raw := env.Body.STKCallback
	cb := &STKCallback{
		MerchantRequestID: strings.TrimSpace(string(raw.MerchantRequestID)),
		CheckoutRequestID: strings.TrimSpace(string(raw.CheckoutRequestID)),
		ResultDesc:        string(raw.ResultDesc),
	}
	if cb.CheckoutRequestID == "" {
		return nil, fmt.Errorf("%w: no CheckoutRequestID", ErrInvalidCallback)
	}
	if raw.ResultCode == nil || NormalizeResultCode(string(*raw.ResultCode)) == "" {
		return nil, fmt.Errorf("%w: no ResultCode", ErrInvalidCallback)
	}
	cb.ResultCode = NormalizeResultCode(string(*raw.ResultCode))
	texts := map[string]string{}
	if raw.CallbackMetadata != nil {
		if len(raw.CallbackMetadata.Item) > MaxMetadataItems {
			return nil, fmt.Errorf("%w: more than %d metadata items", ErrInvalidCallback, MaxMetadataItems)
		}
		for _, it := range raw.CallbackMetadata.Item {
			if len(it.Name) > MaxMetadataTextLen {
				return nil, fmt.Errorf("%w: metadata item name longer than %d bytes", ErrInvalidCallback, MaxMetadataTextLen)
			}
			if text, ok := cb.Metadata.set(it.Name, it.Value); ok {
				texts[it.Name] = text
			}
		}
	}
	if err := cb.validate(texts); err != nil {
		return nil, err
	}
	return cb, nil
}

// set records one metadata item and returns its text (ok false when it has
// none). Values of the wrong shape are ignored, which leaves the field's zero
// value (and AmountOK false) for the caller to judge.
func (m *Metadata) set(name string, value json.RawMessage) (text string, ok bool) {
	var v FlexString
	if len(value) == 0 || json.Unmarshal(value, &v) != nil {
		return "", false
	}
	return m.setText(name, string(v)), true
}

// setText records item name with value text (FlexString's text) and
// returns it trimmed.
func (m *Metadata) setText(name, text string) string {
	text = strings.TrimSpace(text)
	switch name {
	case "Amount":
		if c, err := ParseCents(text); err == nil {
			m.Amount, m.AmountOK = c, true
		}
	case "MpesaReceiptNumber":
		m.MpesaReceiptNumber = text
	case "TransactionDate":
		if t, err := ParseTimestamp(text); err == nil {
			m.TransactionDate = t
		}
	case "PhoneNumber":
		if n, err := NormalizeMSISDN(text); err == nil {
			m.PhoneNumber = n
		} else {
			m.PhoneNumber = text
		}
	case "Balance":
		m.Balance = text
	}
	return text
}
