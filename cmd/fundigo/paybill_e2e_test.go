package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/payment"
)

// c2bBody is a C2B validation/confirmation as Daraja v2 sends it: amounts
// as strings, MSISDN masked, names in any script.
func c2bBody(transID, ref, amount string) []byte {
	b, _ := json.Marshal(map[string]string{"TransactionType": "Pay Bill", "TransID": transID, "TransTime": "20301201101500",
		"TransAmount": amount, "BusinessShortCode": "174379", "BillRefNumber": ref, "InvoiceNumber": "",
		"OrgAccountBalance": "", "ThirdPartyTransID": "", "MSISDN": "2547 ***** 149", "FirstName": "Wanjikũ",
		"MiddleName": "", "LastName": "Ōtieno"})
	return b
}

// TestPaybillEndToEnd: a Pay Bill payment waits as awaiting_payment with
// its account reference; validation answers without marking anything;
// the confirmation pays it once (a redelivery and a cross-channel copy of
// an STK receipt are no-ops); an unmatched confirmation is kept as
// unallocated funds and allocated by an operator.
func TestPaybillEndToEnd(t *testing.T) {
	t.Parallel()
	e := startPaymentsE2E(t)
	hook := "/v1/webhooks/daraja/c2b/"
	validation, confirmation := hook+"validation/"+e2eCallbackToken, hook+"confirmation/"+e2eCallbackToken

	code, p := e.call(t, http.MethodPost, "/v1/payments", map[string]any{"job_id": "job-pb1", "customer_id": "c1",
		"phone": "0708374149", "amount": 700, "method": "paybill"}, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", p)
	require.Equal(t, "awaiting_payment", p["status"])
	require.Equal(t, "JOB-PB1", p["account_reference"])
	id := p["id"].(string)

	code, v := e.call(t, http.MethodPost, validation, c2bBody("PB00000001", " job-pb1 ", "700.00"), nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "0", v["ResultCode"])
	_, v = e.call(t, http.MethodPost, validation, c2bBody("PB00000001", "job-pb1", "699"), nil)
	require.Equal(t, "C2B00013", v["ResultCode"])
	_, v = e.call(t, http.MethodPost, validation, c2bBody("PB00000001", "nobody", "700"), nil)
	require.Equal(t, "C2B00012", v["ResultCode"])
	_, got := e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
	require.Equal(t, "awaiting_payment", got["status"], "validation marks nothing paid")

	for range 2 { // a redelivery changes nothing
		code, ack := e.call(t, http.MethodPost, confirmation, c2bBody("PB00000001", " job-pb1 ", "700.00"), nil)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, map[string]any{"ResultCode": float64(0), "ResultDesc": "Success"}, ack)
	}
	paid := e.waitStatus(t, id, "paid")
	require.Equal(t, "PB00000001", paid["mpesa_receipt"])
	e.publishedEvent(t, "payment.paid", id)
	require.Equal(t, 1, e.count(t, `SELECT count(*) FROM payment_ledger WHERE mpesa_receipt = 'PB00000001' AND channel = 'c2b'`))

	// An STK payment's receipt reported again on the C2B URL: no-op.
	stk := e.createPayment(t, "0708374149", 1234)
	stkPaid := e.waitStatus(t, stk, "paid")
	receipt := stkPaid["mpesa_receipt"].(string)
	code, _ = e.call(t, http.MethodPost, confirmation, c2bBody(receipt, "job-0708374149", "1234.00"), nil)
	require.Equal(t, http.StatusOK, code)

	// Unknown account: kept, listed, allocated by an operator.
	code, _ = e.call(t, http.MethodPost, confirmation, c2bBody("PB00000002", "JOB-TYPO", "500"), nil)
	require.Equal(t, http.StatusOK, code)
	var list map[string]any
	require.Eventually(t, func() bool {
		_, list = e.call(t, http.MethodGet, "/v1/payments/unallocated", nil, nil)
		return len(list["results"].([]any)) == 1
	}, 20*time.Second, 100*time.Millisecond, "the unmatched confirmation is listed: %v", list)
	item := list["results"].([]any)[0].(map[string]any)
	require.Equal(t, "PB00000002", item["trans_id"])
	require.Equal(t, "2547 ***** 149", item["msisdn"])
	require.Equal(t, "Wanjikũ Ōtieno", item["payer_name"])
	require.Zero(t, e.count(t, `SELECT count(*) FROM unallocated_funds WHERE trans_id = $1`, receipt),
		"the cross-channel duplicate is not unallocated")

	code, p2 := e.call(t, http.MethodPost, "/v1/payments", map[string]any{"job_id": "job-pb2", "customer_id": "c1",
		"phone": "0708374149", "amount": 500, "method": "paybill", "account_reference": "pb-2"}, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", p2)
	require.Equal(t, "PB-2", p2["account_reference"])
	code, _ = e.call(t, http.MethodPost, "/v1/payments/unallocated/PB00000002/allocate", map[string]any{"payment_id": id}, nil)
	require.Equal(t, http.StatusConflict, code, "an already paid payment cannot take it")
	code, alloc := e.call(t, http.MethodPost, "/v1/payments/unallocated/PB00000002/allocate", map[string]any{"payment_id": p2["id"]}, nil)
	require.Equal(t, http.StatusOK, code, "%v", alloc)
	require.Equal(t, "paid", alloc["status"])
	_, list = e.call(t, http.MethodGet, "/v1/payments/unallocated", nil, nil)
	require.Empty(t, list["results"])

	// The operator CLI does the same: list, then allocate.
	code, _ = e.call(t, http.MethodPost, confirmation, c2bBody("PB00000003", "JOB-TYPO-2", "300"), nil)
	require.Equal(t, http.StatusOK, code)
	cli := func(args ...string) (string, error) {
		var out lockedBuffer
		err := run(context.Background(), args, e.getenv, &out, &out)
		return out.String(), err
	}
	require.Eventually(t, func() bool {
		out, err := cli("payments", "unallocated", "list")
		return err == nil && strings.Contains(out, "PB00000003") && strings.Contains(out, "1 unallocated")
	}, 20*time.Second, 100*time.Millisecond)
	code, p3 := e.call(t, http.MethodPost, "/v1/payments", map[string]any{"job_id": "job-pb3", "customer_id": "c1",
		"phone": "0708374149", "amount": 300, "method": "paybill"}, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", p3)
	_, err := cli("payments", "unallocated", "allocate", "PB00000003", id)
	require.ErrorIs(t, err, payment.ErrNotAllocatable, "a paid payment cannot take it")
	out, err := cli("payments", "unallocated", "allocate", "PB00000003", p3["id"].(string))
	require.NoError(t, err, out)
	require.Contains(t, out, "allocated PB00000003 to payment "+p3["id"].(string)+": paid")
	e.waitStatus(t, p3["id"].(string), "paid")
	out, err = cli("payments", "unallocated", "list")
	require.NoError(t, err)
	require.Contains(t, out, "0 unallocated")
}
