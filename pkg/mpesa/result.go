package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Inbox routes of the asynchronous Daraja results (see InboxRouteSTK): every
// path that stores one and every reader use these names.
const (
	InboxRouteB2CResult     = "mpesa.b2c.result"
	InboxRouteB2CTimeout    = "mpesa.b2c.timeout"
	InboxRouteStatusResult  = "mpesa.status.result"
	InboxRouteStatusTimeout = "mpesa.status.timeout"
	InboxRouteC2B           = "mpesa.c2b.confirmation"
)

// ErrInvalidResult is returned by ParseResult for a body that is not a
// Daraja Result envelope: not JSON, too deep, or without Result.ResultCode
// or any conversation id.
var ErrInvalidResult = errors.New("mpesa: invalid result")

// Result is the envelope Daraja POSTs to a ResultURL or QueueTimeOutURL
// (B2C, Transaction Status): {"Result":{...}}. Numbers and strings are both
// accepted for every scalar. For a Transaction Status result the outer
// conversation ids are those of the query, not of the transaction it asks
// about: the subject is named in Params.
type Result struct {
	ResultType               string
	ResultCode               string // trimmed text: "0", "1", "2001", "SFC_IC0003"
	ResultDesc               string // verbatim; never branch on it
	OriginatorConversationID string
	ConversationID           string
	TransactionID            string
	Params                   Params
}

// Success reports whether ResultCode is 0.
func (r *Result) Success() bool { return IsSuccess(r.ResultCode) }

// Params are ResultParameters by normalised key (see NormalizeKey). A key
// sent without Value is present with "". The first occurrence of a key wins.
type Params map[string]string

// Get returns the value of key (any spelling: "Originator Conversation ID",
// "OriginatorConversationID") and whether it was sent.
func (p Params) Get(key string) (string, bool) {
	v, ok := p[NormalizeKey(key)]
	return v, ok
}

// Value returns the value of key, "" when absent.
func (p Params) Value(key string) string {
	v, _ := p.Get(key)
	return v
}

// NormalizeKey folds a ResultParameters key to one spelling: 1.0-era results
// write "Originator Conversation ID" or "Transaction_Status" where 3.0 writes
// "OriginatorConversationID"; spaces, underscores and case do not matter.
func NormalizeKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// maxResultParams bounds the parameters kept from one result.
const maxResultParams = 64

// ParseResult parses a Result envelope. The body must be at most
// MaxCallbackBytes; ResultParameters.ResultParameter may be an array or a
// single object, and ReferenceData is ignored (object in B2C, array in B2B).
func ParseResult(body []byte) (*Result, error) {
	if len(body) > MaxCallbackBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrInvalidResult, MaxCallbackBytes)
	}
	var env struct {
		Result *struct {
			ResultType               FlexString      `json:"ResultType"`
			ResultCode               *FlexString     `json:"ResultCode"`
			ResultDesc               FlexString      `json:"ResultDesc"`
			OriginatorConversationID FlexString      `json:"OriginatorConversationID"`
			ConversationID           FlexString      `json:"ConversationID"`
			TransactionID            FlexString      `json:"TransactionID"`
			ResultParameters         json.RawMessage `json:"ResultParameters"`
		} `json:"Result"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidResult, err)
	}
	r := env.Result
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: no Result object", ErrInvalidResult)
	case r.ResultCode == nil || NormalizeResultCode(string(*r.ResultCode)) == "":
		return nil, fmt.Errorf("%w: no ResultCode", ErrInvalidResult)
	case strings.TrimSpace(string(r.OriginatorConversationID)) == "" && strings.TrimSpace(string(r.ConversationID)) == "":
		return nil, fmt.Errorf("%w: no OriginatorConversationID or ConversationID", ErrInvalidResult)
	}
	params, err := parseParams(r.ResultParameters)
	if err != nil {
		return nil, fmt.Errorf("%w: ResultParameters: %w", ErrInvalidResult, err)
	}
	return &Result{
		ResultType:               strings.TrimSpace(string(r.ResultType)),
		ResultCode:               NormalizeResultCode(string(*r.ResultCode)),
		ResultDesc:               string(r.ResultDesc),
		OriginatorConversationID: strings.TrimSpace(string(r.OriginatorConversationID)),
		ConversationID:           strings.TrimSpace(string(r.ConversationID)),
		TransactionID:            strings.TrimSpace(string(r.TransactionID)),
		Params:                   params,
	}, nil
}

// parseParams reads {"ResultParameter": [...] | {...}} leniently: values may
// be strings, numbers, null or missing; other values keep their JSON text.
func parseParams(raw json.RawMessage) (Params, error) {
	p := Params{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte(`""`)) {
		return p, nil
	}
	var outer struct {
		ResultParameter json.RawMessage `json:"ResultParameter"`
	}
	if err := json.Unmarshal(raw, &outer); err != nil {
		return nil, err
	}
	type item struct {
		Key   FlexString      `json:"Key"`
		Value json.RawMessage `json:"Value"`
	}
	var items []item
	list := bytes.TrimSpace(outer.ResultParameter)
	switch {
	case len(list) == 0 || bytes.Equal(list, []byte("null")):
	case list[0] == '[':
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, err
		}
	default:
		var one item
		if err := json.Unmarshal(list, &one); err != nil {
			return nil, err
		}
		items = []item{one}
	}
	for _, it := range items {
		k := NormalizeKey(string(it.Key))
		if k == "" || len(p) >= maxResultParams {
			continue
		}
		if _, seen := p[k]; seen {
			continue
		}
		p[k] = rawText(it.Value)
	}
	return p, nil
}

// rawText is a parameter value as text: a string unquoted, a number as
// written, null or absent as "", anything else as its JSON.
func rawText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || bytes.Equal(v, []byte("null")) {
		return ""
	}
	var f FlexString
	if err := json.Unmarshal(v, &f); err == nil {
		return strings.TrimSpace(string(f))
	}
	return string(v)
}

// CompletedLayout is the dd.MM.yyyy HH:mm:ss layout of
// TransactionCompletedDateTime and of Transaction Status times.
const CompletedLayout = "02.01.2006 15:04:05"

// ParseCompletedTime parses a B2C TransactionCompletedDateTime
// ("06.07.2024 22:48:52") as Kenya time; 1.0-era results also used
// YYYYMMDDHHmmss, which is accepted too.
func ParseCompletedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation(CompletedLayout, s, nairobi); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(TimestampLayout, s, nairobi); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("parse completed time %.30q: want dd.MM.yyyy HH:mm:ss", s)
}

// FormatCompletedTime renders t as Daraja's dd.MM.yyyy HH:mm:ss in Kenya time.
func FormatCompletedTime(t time.Time) string { return t.In(nairobi).Format(CompletedLayout) }
