package mpesasim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
)

// handleOAuth issues a token. Like Safaricom, each new token revokes the
// previous one, so clients that do not share their token trip each other up.
func (s *Sim) handleOAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusNotFound, "404.001.04", "Invalid Authentication Header")
		return
	}
	if r.URL.Query().Get("grant_type") != "client_credentials" {
		writeError(w, http.StatusBadRequest, "400.008.02", "Invalid grant type passed")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.ConsumerKey)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.ConsumerSecret)) != 1 {
		writeError(w, http.StatusBadRequest, "400.008.01", "Invalid Authentication passed")
		return
	}
	b := make([]byte, 21)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)

	s.mu.Lock()
	lifetime := s.cfg.TokenExpiresIn
	if s.faults.TokenLifetime > 0 && s.faults.TokenLifetime < lifetime {
		lifetime = s.faults.TokenLifetime
	}
	s.token, s.tokExp = tok, s.cfg.NowFunc().Add(lifetime)
	s.stats.TokensIssued++
	s.mu.Unlock()

	// Older Daraja answers carry expires_in as a string; clients must cope.
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"expires_in":   strconv.Itoa(int(s.cfg.TokenExpiresIn.Seconds())),
	})
}

// authorized checks the Bearer token and answers 404.001.03 if it is not the
// current, unexpired one.
func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	got := r.Header.Get("Authorization")
	s.mu.Lock()
	ok := s.token != "" && got == "Bearer "+s.token && s.cfg.NowFunc().Before(s.tokExp)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "404.001.03", "Invalid Access Token")
	}
	return ok
}
