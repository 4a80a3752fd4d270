package payment

import (
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

// TestJudgeReceiptMustMatchDarajaFormat is issue #12 row 1 (receipts): a
// success whose receipt is not 10 uppercase letters or digits is never paid.
func TestJudgeReceiptMustMatchDarajaFormat(t *testing.T) {
	t.Parallel()
	p := Payment{ID: "p", Phone: "254708374149", Amount: 15, Status: AwaitingCallback}
	cb := func(receipt string) *mpesa.STKCallback {
		return &mpesa.STKCallback{CheckoutRequestID: "ws", ResultCode: "0", Metadata: mpesa.Metadata{
			Amount: 1500, AmountOK: true, PhoneNumber: "254708374149", MpesaReceiptNumber: receipt}}
	}
	require.Equal(t, Paid, judge(p, cb("NLJ7RT61SV"), "").to)
	for _, bad := range []string{"FAKE000001x", "fake000001", "NLJ7RT61S", "NLJ7RT61SVX", "NLJ7RT-1SV"} {
		v := judge(p, cb(bad), "")
		require.Equal(t, NeedsReview, v.to, bad)
		require.Contains(t, v.o.Reason, "receipt not in Daraja's format", bad)
	}
}
