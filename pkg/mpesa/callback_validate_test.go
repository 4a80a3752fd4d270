package mpesa_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

// stkBody builds a callback with the given stkCallback fields (raw JSON
// members) and metadata items (raw JSON objects).
func stkBody(fields string, items ...string) []byte {
	b := `{"Body":{"stkCallback":{` + fields
	if len(items) > 0 {
		b += `,"CallbackMetadata":{"Item":[` + strings.Join(items, ",") + `]}`
	}
	return []byte(b + `}}}`)
}

const okFields = `"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0,"ResultDesc":"The service request is processed successfully."`

var okItems = []string{
	`{"Name":"Amount","Value":1500.00}`, `{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"}`,
	`{"Name":"TransactionDate","Value":20191219102115}`, `{"Name":"PhoneNumber","Value":254708374149}`,
}

func withItem(i int, item string) []string {
	out := append([]string(nil), okItems...)
	out[i] = item
	return out
}

// TestParseCallbackRejectsUnboundedFields: every identifier and text field is
// bounded and checked at intake, so a hostile value never reaches the inbox
// commit (where a NUL fails with SQLSTATE 22021 and a 5,000-character id
// overflows the unique index) and is never logged in full.
func TestParseCallbackRejectsUnboundedFields(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 5000)
	tests := map[string][]byte{
		"checkout id 5000 chars": stkBody(`"CheckoutRequestID":"ws_CO_` + long + `","ResultCode":0`),
		"checkout id 65 chars":   stkBody(`"CheckoutRequestID":"ws_CO_` + strings.Repeat("1", 59) + `","ResultCode":0`),
		"checkout id NUL":        stkBody(`"CheckoutRequestID":"ws_CO_1\u0000","ResultCode":0`),
		"checkout id slash":      stkBody(`"CheckoutRequestID":"ws_CO_1/../x","ResultCode":0`),
		"checkout id space":      stkBody(`"CheckoutRequestID":"ws CO 1","ResultCode":0`),
		"checkout id unicode":    stkBody(`"CheckoutRequestID":"ws_CO_1é","ResultCode":0`),
		"merchant id long":       stkBody(`"MerchantRequestID":"` + long + `","CheckoutRequestID":"ws_CO_1","ResultCode":0`),
		"merchant id NUL":        stkBody(`"MerchantRequestID":"1\u0000","CheckoutRequestID":"ws_CO_1","ResultCode":0`),
		"result code NUL":        stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":"1\u0000"`),
		"result code long":       stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":"` + strings.Repeat("9", 40) + `"`),
		"result code newline":    stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":"1\n2"`),
		"result desc NUL":        stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"cancelled\u0000"`),
		"result desc control":    stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"a\u001bb"`),
		"result desc long":       stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"` + long + `"`),
		"result desc bad utf8":   stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"` + "\xff\xfe" + `"`),
		"receipt NUL":            stkBody(okFields, withItem(1, `{"Name":"MpesaReceiptNumber","Value":"NLJ7\u0000RT61SV"}`)...),
		"receipt long":           stkBody(okFields, withItem(1, `{"Name":"MpesaReceiptNumber","Value":"`+long+`"}`)...),
		"receipt charset":        stkBody(okFields, withItem(1, `{"Name":"MpesaReceiptNumber","Value":"NLJ7'; DROP"}`)...),
		"phone long":             stkBody(okFields, withItem(3, `{"Name":"PhoneNumber","Value":"`+strings.Repeat("7", 40)+`"}`)...),
		"phone letters":          stkBody(okFields, withItem(3, `{"Name":"PhoneNumber","Value":"2547abc"}`)...),
		"phone NUL":              stkBody(okFields, withItem(3, `{"Name":"PhoneNumber","Value":"254708374149\u0000"}`)...),
		"amount charset":         stkBody(okFields, withItem(0, `{"Name":"Amount","Value":"1500 KES"}`)...),
		"amount long":            stkBody(okFields, withItem(0, `{"Name":"Amount","Value":"`+strings.Repeat("1", 40)+`"}`)...),
		"amount NUL":             stkBody(okFields, withItem(0, `{"Name":"Amount","Value":"1\u0000"}`)...),
		"date long":              stkBody(okFields, withItem(2, `{"Name":"TransactionDate","Value":"`+long+`"}`)...),
		"balance NUL":            stkBody(okFields, append(okItems, `{"Name":"Balance","Value":"\u0000"}`)...),
		"item name long":         stkBody(okFields, append(okItems, `{"Name":"`+long+`","Value":1}`)...),
		"too many items":         stkBody(okFields, append(okItems, strings.Split(strings.Repeat(`{"Name":"X","Value":1};`, 40), ";")[:40]...)...),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cb, err := mpesa.ParseCallback(body)
			require.ErrorIs(t, err, mpesa.ErrInvalidCallback)
			require.Nil(t, cb)
			require.Less(t, len(err.Error()), 200, "the error never echoes the offending value")
		})
	}
}

// TestParseCallbackAcceptsRealShapes: the bounds leave every shape Daraja and
// the simulator send.
func TestParseCallbackAcceptsRealShapes(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"success":            stkBody(okFields, okItems...),
		"no merchant id":     stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"Request cancelled by user"`),
		"string code":        stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":"SFC_IC0003","ResultDesc":"Phone not on M-PESA"`),
		"negative amount":    stkBody(okFields, withItem(0, `{"Name":"Amount","Value":-660.00}`)...),
		"phone with plus":    stkBody(okFields, withItem(3, `{"Name":"PhoneNumber","Value":"+254708374149"}`)...),
		"balance text":       stkBody(okFields, append(okItems, `{"Name":"Balance","Value":"{Amount={BasicAmount=46.00, CurrencyCode=KES}}"}`)...),
		"swahili desc":       stkBody(`"CheckoutRequestID":"ws_CO_1","ResultCode":1,"ResultDesc":"Salio halitoshi – tafadhali ongeza"`),
		"64 char id":         stkBody(`"CheckoutRequestID":"ws_CO_` + strings.Repeat("1", 58) + `","ResultCode":0`),
		"bench id":           stkBody(`"CheckoutRequestID":"ws_CO_bench_a1b2c3_42","ResultCode":0`),
		"dotted merchant id": stkBody(`"MerchantRequestID":"f1e2-4b4c.9","CheckoutRequestID":"ws_CO_1","ResultCode":0`),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := mpesa.ParseCallback(body)
			require.NoError(t, err)
		})
	}
}
