package mpesa

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestParseCallbackFastTakesDarajaShapes: the callbacks Daraja sends (the
// testdata, numbers or strings, reordered) take the fast path with the
// reference decoder's result; everything unusual falls back to it.
func TestParseCallbackFastTakesDarajaShapes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	fast := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		want, werr := parseCallbackReference(body)
		got, ok := parseCallbackFast(body)
		if strings.HasSuffix(f, ".bad.json") {
			require.Error(t, werr, f)
			require.False(t, ok, f)
			continue
		}
		require.NoError(t, werr, f)
		require.True(t, ok, "%s takes the fast path", f)
		require.Equal(t, want, got, f)
		fast++
	}
	require.GreaterOrEqual(t, fast, 14)

	for name, body := range map[string]string{
		"escape in a string":  `{"Body":{"stkCallback":{"CheckoutRequestID":"ws\u005fCO","ResultCode":0}}}`,
		"other key case":      `{"body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0}}}`,
		"unknown key":         `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"X":1}}}`,
		"duplicate key":       `{"Body":{"stkCallback":{"CheckoutRequestID":"a","CheckoutRequestID":"b","ResultCode":0}}}`,
		"null value":          `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"ResultDesc":null}}}`,
		"null item value":     `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"Balance","Value":null}]}}}}`,
		"boolean":             `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":true}}}`,
		"no result code":      `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO"}}}`,
		"trailing data":       `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0}}} {}`,
		"bad number":          `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":01}}}`,
		"item without a name": `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"CallbackMetadata":{"Item":[{"Value":1}]}}}}`,
		"bad receipt":         `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"CallbackMetadata":{"Item":[{"Name":"MpesaReceiptNumber","Value":"NL J7"}]}}}}`,
		"too many items":      `{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO","ResultCode":0,"CallbackMetadata":{"Item":[` + strings.Repeat(`{"Name":"A"},`, MaxMetadataItems) + `{"Name":"Amount","Value":1}]}}}}`,
	} {
		_, ok := parseCallbackFast([]byte(body))
		require.False(t, ok, name)
	}
}

// FuzzParseCallbackFastMatchesDecoder is the differential check: whenever
// the fast path answers, the encoding/json decoder accepts the same body
// and gives the same callback.
func FuzzParseCallbackFastMatchesDecoder(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":" x ","ResultCode":-0.5e+3,"CallbackMetadata":{"Item":[{"Name":"Amount","Value":" 1.5 "},{"Name":"Amount"},{"Name":"Amount","Value":2}]}}}}`))
	f.Add([]byte(`{"Body":{"stkCallback":{"MerchantRequestID":1,"CheckoutRequestID":"a","ResultCode":"","CallbackMetadata":{"Item":[]}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > MaxCallbackBytes || !utf8.Valid(body) {
			return // ParseCallback refuses these before either decoder runs
		}
		got, ok := parseCallbackFast(body)
		if !ok {
			require.Nil(t, got)
			return
		}
		want, err := parseCallbackReference(body)
		require.NoError(t, err, "the fast path accepted a body the decoder refuses")
		require.Equal(t, want, got)
	})
}

func BenchmarkParseCallback(b *testing.B) {
	body, err := os.ReadFile("testdata/success.json")
	require.NoError(b, err)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseCallbackFast(body); !ok {
				b.Fatal("slow path")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCallbackReference(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
