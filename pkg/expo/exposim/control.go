package exposim

import (
	"encoding/json"
	"net/http"
	"time"
)

func (s *Sim) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// failRequest is the body of POST /_sim/fail.
type failRequest struct {
	Provider          string `json:"provider"` // "expo" (default) or "fcm"
	Status            int    `json:"status"`
	Count             int    `json:"count"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

func (s *Sim) handleFail(w http.ResponseWriter, r *http.Request) {
	var req failRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil ||
		req.Status < 400 || req.Status > 599 || req.Count < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want status 400..599 and count >= 1"})
		return
	}
	ra := time.Duration(req.RetryAfterSeconds) * time.Second
	if req.Provider == "fcm" {
		s.FailNextFCM(req.Count, req.Status, ra)
	} else {
		s.FailNext(req.Count, req.Status, ra)
	}
	w.WriteHeader(http.StatusNoContent)
}
