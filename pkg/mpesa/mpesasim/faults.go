package mpesasim

import (
	"net/http"
	"time"

	"fundigo/pkg/mpesa"
)

// Faults switch on Daraja's bad days. Set them with SetFaults; they apply to
// requests arriving afterwards.
type Faults struct {
	// CallbackDelay overrides Config.CallbackDelay when non-zero.
	CallbackDelay time.Duration
	// DuplicateCallbacks sends each callback this many extra times.
	DuplicateCallbacks int
	// Fail5xx answers the next N STK Push / Query requests with
	// 500.003.02 "System is busy" without acting on them.
	Fail5xx int
	// Hang holds the answer of the next N STK Pushes for HangFor after
	// accepting them (the customer IS prompted and the callback IS sent), so
	// a client with a shorter timeout sees an ambiguous outcome.
	Hang    int
	HangFor time.Duration
	// TokenLifetime makes tokens stop working this long after issue, earlier
	// than the expires_in they announce (0 = as announced).
	TokenLifetime time.Duration
}

// SetFaults replaces the active faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// ExpireToken makes the current token invalid at once, as if Safaricom had
// revoked it.
func (s *Sim) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// take5xx consumes one pending 5xx fault. Caller holds s.mu.
func (s *Sim) take5xx() bool {
	if s.faults.Fail5xx > 0 {
		s.faults.Fail5xx--
		return true
	}
	return false
}

// writeBusy answers Daraja's 503 "System is busy" (spike arrest).
func writeBusy(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, mpesa.CodeSpikeArrest, "System is busy. Please try again in few minutes.")
}
