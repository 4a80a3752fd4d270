package mpesa_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

const testCheckoutID = "ws_CO_191220191020363925"

func TestParseCallbackTestdata(t *testing.T) {
	t.Parallel()
	paid := mpesa.Metadata{
		Amount: 150000, AmountOK: true, MpesaReceiptNumber: "NLJ7RT61SV",
		TransactionDate: time.Date(2019, 12, 19, 10, 21, 15, 0, mpesa.Nairobi()),
		PhoneNumber:     "254708374149",
	}
	withBalance := paid
	withBalance.Balance = "{Amount={BasicAmount=46.00, MinimumAmount=4600, CurrencyCode=KES}}"
	mismatch := paid
	mismatch.Amount, mismatch.MpesaReceiptNumber = 100, "NLJ7RT61SW"
	negative := paid
	negative.Amount, negative.MpesaReceiptNumber = -150000, "NLJ7RT61SX"
	otherPhone := paid
	otherPhone.PhoneNumber, otherPhone.MpesaReceiptNumber = "254711000111", "NLJ7RT61SY"

	tests := map[string]struct {
		code   string
		reason mpesa.FailureReason // for failures
		meta   mpesa.Metadata
	}{
		"success.json":                 {code: "0", meta: paid},
		"success_balance_novalue.json": {code: "0", meta: paid},
		"success_balance_value.json":   {code: "0", meta: withBalance},
		"success_reordered.json":       {code: "0", meta: paid},
		"success_strings.json":         {code: "0", meta: paid},
		"success_amount_mismatch.json": {code: "0", meta: mismatch},
		"success_negative_amount.json": {code: "0", meta: negative},
		"success_phone_mismatch.json":  {code: "0", meta: otherPhone},
		"failure_1032.json":            {code: "1032", reason: mpesa.ReasonCancelled},
		"failure_1037.json":            {code: "1037", reason: mpesa.ReasonTimeout},
		"failure_1.json":               {code: "1", reason: mpesa.ReasonInsufficientFunds},
		"failure_2001.json":            {code: "2001", reason: mpesa.ReasonWrongPIN},
		"failure_1019.json":            {code: "1019", reason: mpesa.ReasonExpired},
		"failure_string_code.json":     {code: "SFC_IC0003", reason: mpesa.ReasonOther},
	}
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".bad.json") {
			continue
		}
		name := filepath.Base(f)
		want, ok := tests[name]
		require.True(t, ok, "testdata file %s has no expectation", name)
		seen++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			cb, err := mpesa.ParseCallback(body)
			require.NoError(t, err)
			require.Equal(t, testCheckoutID, cb.CheckoutRequestID)
			require.Equal(t, "29115-34620561-1", cb.MerchantRequestID)
			require.Equal(t, want.code, cb.ResultCode)
			require.NotEmpty(t, cb.ResultDesc)
			require.Equal(t, want.code == "0", cb.Success())
			if !cb.Success() {
				require.Equal(t, want.reason, mpesa.ReasonFor(cb.ResultCode))
				require.Equal(t, mpesa.Metadata{}, cb.Metadata)
				return
			}
			require.True(t, want.meta.TransactionDate.Equal(cb.Metadata.TransactionDate))
			got := cb.Metadata
			got.TransactionDate = want.meta.TransactionDate
			require.Equal(t, want.meta, got)
		})
	}
	require.Equal(t, len(tests), seen, "an expectation has no testdata file")
}

func TestParseCallbackBad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.bad.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			cb, err := mpesa.ParseCallback(body)
			require.ErrorIs(t, err, mpesa.ErrInvalidCallback)
			require.Nil(t, cb)
		})
	}
}

func TestParseCallbackLimits(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/failure_1032.json")
	require.NoError(t, err)
	tests := map[string][]byte{
		"deep nesting": append([]byte(`{"Body":{"stkCallback":{"x":`+strings.Repeat("[", 20000)),
			bytes.Repeat([]byte("]"), 20000)...),
		"one MiB":  append(bytes.TrimSpace(good[:len(good)-2]), []byte(`,"pad":"`+strings.Repeat("a", 1<<20)+`"}`)...),
		"empty":    {},
		"null":     []byte("null"),
		"object":   []byte("{}"),
		"bool":     []byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":true}}}`),
		"blank id": []byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"  ","ResultCode":0}}}`),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := mpesa.ParseCallback(body)
			require.ErrorIs(t, err, mpesa.ErrInvalidCallback)
		})
	}
}

func TestParseCallbackOddMetadata(t *testing.T) {
	t.Parallel()
	body := []byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_1","ResultCode":"0 ","ResultDesc":"ok",
		"CallbackMetadata":{"Item":[{"Name":"Amount","Value":{"x":1}},{"Name":"PhoneNumber","Value":"12"},
		{"Name":"TransactionDate","Value":"yesterday"},{"Name":"Unknown","Value":[1,2]},{"Name":"MpesaReceiptNumber","Value":null}]}}}}`)
	cb, err := mpesa.ParseCallback(body)
	require.NoError(t, err)
	require.True(t, cb.Success())
	require.False(t, cb.Metadata.AmountOK)
	require.Equal(t, "12", cb.Metadata.PhoneNumber)
	require.True(t, cb.Metadata.TransactionDate.IsZero())
	require.Empty(t, cb.Metadata.MpesaReceiptNumber)
}

func FuzzParseCallback(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":1e400,"ResultCode":-0}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := mpesa.ParseCallback(body)
		if err != nil {
			require.ErrorIs(t, err, mpesa.ErrInvalidCallback)
			require.Nil(t, cb)
			return
		}
		require.NotEmpty(t, cb.CheckoutRequestID)
		require.NotEmpty(t, cb.ResultCode)
		_ = mpesa.ReasonFor(cb.ResultCode)
	})
}
