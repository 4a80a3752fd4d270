package mpesasim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// writeError answers with Daraja's error envelope.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{
		"requestId":    newRequestID(),
		"errorCode":    code,
		"errorMessage": msg,
	})
}

// badRequest is Daraja's catch-all validation error ("Bad Request - Invalid X").
func badRequest(w http.ResponseWriter, field string) {
	writeError(w, http.StatusBadRequest, "400.002.02", "Bad Request - Invalid "+field)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
