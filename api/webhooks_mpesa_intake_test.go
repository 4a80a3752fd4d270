package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSTKWebhookBadDeliveryNeverFailsBatchMates is issue 12 row 4: 20 valid
// callbacks and one with a 5,000-character CheckoutRequestID (and one with a
// NUL in ResultCode), posted concurrently so they share a grouped commit.
// Every valid one is answered 200 and stored; the bad ones get 400 and are
// quarantined, and the long id is never logged in full.
func TestSTKWebhookBadDeliveryNeverFailsBatchMates(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) {
		d.Config.Payments.CallbackToken = webhookToken
		d.Config.Payments.InboxWindow = 150 * time.Millisecond // one batch for all
	})
	raw := make([]byte, 2500)
	_, _ = rand.Read(raw)
	longID := "ws_CO_" + hex.EncodeToString(raw)[:4994] // incompressible, over the btree limit
	callback := func(id, code string) []byte {
		return []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"` + id +
			`","ResultCode":` + code + `,"ResultDesc":"Request cancelled by user"}}}`)
	}
	const valid = 20
	bodies := make([][]byte, 0, valid+2)
	for i := range valid {
		bodies = append(bodies, callback(fmt.Sprintf("ws_CO_batch_%d", i), "1032"))
	}
	bodies = append(bodies, callback(longID, "1032"), callback("ws_CO_nul", `"1\u0000"`))

	codes := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = s.do(t, http.MethodPost, "/v1/webhooks/daraja/stk/"+webhookToken, b, nil).Code
		}()
	}
	wg.Wait()
	for i := range valid {
		require.Equal(t, http.StatusOK, codes[i], "valid callback %d", i)
	}
	require.Equal(t, http.StatusBadRequest, codes[valid], "5,000-character id")
	require.Equal(t, http.StatusBadRequest, codes[valid+1], "NUL in ResultCode")

	ctx := context.Background()
	var stored, quarantined int
	require.NoError(t, s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&stored))
	require.Equal(t, valid, stored)
	require.NoError(t, s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM inbox_quarantine`).Scan(&quarantined))
	require.Equal(t, 2, quarantined)
	require.NotContains(t, s.logs.String(), longID[:200], "identifiers are logged truncated")
}
