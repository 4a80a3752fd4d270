package mpesa_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

// TestParseResultTable runs every B2C / Transaction Status body in
// testdata/results: good ones parse to the expected fields (numbers and
// strings alike, keys with spaces, values without Value, a single
// ResultParameter object, ReferenceItem object or array), bad ones are
// refused with ErrInvalidResult.
func TestParseResultTable(t *testing.T) {
	t.Parallel()
	type want struct {
		code, orig, conv, txID string
		params                 map[string]string // by any spelling
	}
	good := map[string]want{
		"b2c_success.json": {code: "0", orig: "FGO-0b8f5c0e-3f7a-4d52-9a61-7c2e4d9b1a38", conv: "AG_20240706_2010325b025970fbc403",
			txID: "SG68WKRDRA", params: map[string]string{
				"TransactionAmount": "250", "TransactionReceipt": "SG68WKRDRA",
				"ReceiverPartyPublicName":         "254708374149 - Njeri Wanjiků Ochieng'",
				"TransactionCompletedDateTime":    "06.07.2024 22:48:52",
				"B2CUtilityAccountAvailableFunds": "10116.00", "B2CChargesPaidAccountAvailableFunds": "-4510.00"}},
		"b2c_failure_1.json":    {code: "1", orig: "FGO-1", conv: "AG_20240706_1", txID: "SG60000001", params: map[string]string{}},
		"b2c_failure_2001.json": {code: "2001", orig: "FGO-2", conv: "AG_20240706_2", txID: "SG60000002", params: map[string]string{}},
		"b2c_failure_sfc.json":  {code: "SFC_IC0003", orig: "FGO-3", conv: "AG_20240706_3", txID: "SG60000003", params: map[string]string{}},
		"b2c_timeout.json":      {code: "SVC0403", orig: "FGO-4", conv: "AG_20240706_4", params: map[string]string{}},
		"status_completed_spaced_keys.json": {code: "0", orig: "10816-694520-2", conv: "AG_20170727_000059c52529a8e080bd",
			txID: "LGR0000000", params: map[string]string{
				"OriginatorConversationID": "19455-773836-1", "Originator Conversation ID": "19455-773836-1",
				"ReceiptNo": "LGR019G3J2", "TransactionStatus": "Completed", "Amount": "10",
				"TransactionReason": "", "FinalisedTime": "20170727101415", "ConversationID": "AG_20170727_00004492b1b6d0078fbe"}},
		"status_failed_3_0.json": {code: "0", orig: "Q-1", conv: "AG_Q_1", params: map[string]string{
			"OriginatorConversationID": "FGO-5", "TransactionStatus": "Failed", "Amount": "300", "ReceiptNo": "",
			"DebitPartyName": "600000 - FundiGO", "TransactionReason": ""}},
		"status_single_param.json": {code: "0", orig: "Q-2", conv: "AG_Q_2", params: map[string]string{"TransactionStatus": "Completed"}},
		"status_query_failed.json": {code: "2032", orig: "Q-3", conv: "AG_Q_3", params: map[string]string{}},
	}
	files, err := filepath.Glob("testdata/results/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	seen := 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			r, err := mpesa.ParseResult(body)
			if strings.HasSuffix(name, ".bad.json") {
				require.ErrorIs(t, err, mpesa.ErrInvalidResult)
				return
			}
			require.NoError(t, err)
			w, ok := good[name]
			require.True(t, ok, "no expectation for %s", name)
			require.Equal(t, w.code, r.ResultCode)
			require.Equal(t, w.orig, r.OriginatorConversationID)
			require.Equal(t, w.conv, r.ConversationID)
			require.Equal(t, w.txID, r.TransactionID)
			require.Equal(t, w.code == "0", r.Success())
			for k, v := range w.params {
				got, present := r.Params.Get(k)
				require.True(t, present, "param %q", k)
				require.Equal(t, v, got, "param %q", k)
			}
		})
		if !strings.HasSuffix(name, ".bad.json") {
			seen++
		}
	}
	require.Equal(t, len(good), seen, "every expectation has its file")
}

func TestNormalizeKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"OriginatorConversationID", "Originator Conversation ID", "originator_conversation_id", " ORIGINATOR conversation id "} {
		require.Equal(t, "originatorconversationid", mpesa.NormalizeKey(k), k)
	}
}

func TestParseCompletedTimeIsKenyaTime(t *testing.T) {
	t.Parallel()
	got, err := mpesa.ParseCompletedTime("06.07.2024 22:48:52")
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 7, 6, 19, 48, 52, 0, time.UTC), got.UTC())
	got, err = mpesa.ParseCompletedTime("20170727101415")
	require.NoError(t, err)
	require.Equal(t, time.Date(2017, 7, 27, 7, 14, 15, 0, time.UTC), got.UTC())
	_, err = mpesa.ParseCompletedTime("2024-07-06T22:48:52Z")
	require.Error(t, err)
	require.Equal(t, "06.07.2024 22:48:52", mpesa.FormatCompletedTime(time.Date(2024, 7, 6, 19, 48, 52, 0, time.UTC)))
}

// TestParseC2BTable: C2B bodies with masked or hashed MSISDNs, numbers or
// strings, Unicode names and a padded lower-case account are read as
// sent, the account normalised for matching; bad ones are refused.
func TestParseC2BTable(t *testing.T) {
	t.Parallel()
	p := parseC2B(t, "paybill_masked.json")
	require.Equal(t, "RKTQDM7W6S", p.TransID)
	require.Equal(t, int64(1000), p.AmountCents)
	require.Equal(t, "JOB-42", p.AccountRef())
	require.Equal(t, "2547 ***** 126", p.MSISDN)
	require.Equal(t, "Ng'ang'a Wanjikũ", p.PayerName())
	require.Equal(t, time.Date(2019, 11, 22, 3, 38, 45, 0, time.UTC), p.TransTime.UTC())

	p = parseC2B(t, "paybill_hashed_numbers.json")
	require.Equal(t, int64(150000), p.AmountCents)
	require.Equal(t, "600638", p.BusinessShortCode)
	require.Len(t, p.MSISDN, 64, "a hashed MSISDN is kept opaque")
	require.Equal(t, "محمد", p.PayerName())

	for _, bad := range []string{"no_transid.bad.json", "bad_amount.bad.json"} {
		body, err := os.ReadFile(filepath.Join("testdata/c2b", bad))
		require.NoError(t, err)
		_, err = mpesa.ParseC2B(body)
		require.ErrorIs(t, err, mpesa.ErrInvalidC2B, bad)
	}
}

func parseC2B(t *testing.T, name string) *mpesa.C2BPayment {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata/c2b", name))
	require.NoError(t, err)
	p, err := mpesa.ParseC2B(body)
	require.NoError(t, err)
	return p
}
