package exposim

import (
	"encoding/json"
	"net/http"
	"strconv"
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

// handleMessages is GET /_sim/messages[?token=…&limit=N]: the last messages
// received as rendered (title, body, data), newest first; limit defaults to
// 20 (at most MaxRecent); token keeps one device's.
func (s *Sim) handleMessages(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxRecent {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1.." + strconv.Itoa(MaxRecent)})
			return
		}
		limit = n
	}
	msgs := s.Recent(MaxRecent)
	if tok := r.URL.Query().Get("token"); tok != "" {
		kept := msgs[:0]
		for _, m := range msgs {
			if m.Token == tok {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs[:min(limit, len(msgs))]})
}
