package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"fundigo/pkg/payment/paymenttest"
)

// BenchmarkGetPaymentAtOneMillion is issue #12's latency figure: GET
// /v1/payments/{id} through the whole API (auth, deadline, metrics, the
// handler, JSON) over a payments table of a million rows, random ids; see
// docs/BENCHMARKS.md. The plan itself (an index scan) is asserted by
// TestLookupsByIDAtOneMillionPayments in pkg/payment. Run with
//
//	go test -run '^$' -bench GetPaymentAtOneMillion -benchtime 2000x ./api/
func BenchmarkGetPaymentAtOneMillion(b *testing.B) {
	s := newTestServer(b, nil)
	ids := paymenttest.Seed(b, s.deps.Pool, 1_000_000, 1000)
	if len(ids) == 0 {
		b.Fatal("no ids sampled")
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/v1/payments/"+ids[i%len(ids)], nil)
		req.Header.Set("X-API-Key", testKey)
		rec := httptest.NewRecorder()
		s.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		i++
	}
}
