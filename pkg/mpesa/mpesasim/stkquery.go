package mpesasim

import (
	"net/http"

	"fundigo/pkg/mpesa"
)

// handleSTKQuery reports a push's outcome: "being processed" (Daraja's
// 500.001.1001 error) until the customer answered, then the ResultCode as a
// string, as Daraja does.
func (s *Sim) handleSTKQuery(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeRequest(w, r)
	if !ok {
		return
	}
	id := str(body, "CheckoutRequestID")
	s.mu.Lock()
	if s.take5xx() {
		s.mu.Unlock()
		writeBusy(w)
		return
	}
	s.stats.Queries++
	t, found := s.txns[id]
	var final bool
	if found {
		final = t.behaviour.QueryFinal && !s.cfg.NowFunc().Before(t.finalAt)
	}
	s.mu.Unlock()
	switch {
	case !found:
		badRequest(w, "CheckoutRequestID")
	case !final:
		writeError(w, http.StatusInternalServerError, mpesa.CodeGeneric500, mpesa.MessageBeingProcessed)
	default:
		writeJSON(w, http.StatusOK, map[string]string{
			"ResponseCode":        "0",
			"ResponseDescription": "The service request has been accepted successsfully",
			"MerchantRequestID":   t.merchantID,
			"CheckoutRequestID":   t.checkoutID,
			"ResultCode":          t.behaviour.ResultCode,
			"ResultDesc":          t.behaviour.ResultDesc,
		})
	}
}
