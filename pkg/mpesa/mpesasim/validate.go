package mpesasim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"fundigo/pkg/mpesa"
)

// decodeAuthed applies the checks every initiator API shares: POST, a
// valid token, JSON. It answers the error itself and returns ok=false.
func (s *Sim) decodeAuthed(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "405.001", "Method Not Allowed")
		return nil, false
	}
	if !s.authorized(w, r) {
		return nil, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		badRequest(w, "Content-Type")
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		badRequest(w, "Request")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		badRequest(w, "Request")
		return nil, false
	}
	return body, true
}

// decodeRequest applies Daraja's checks common to STK Push and Query: those
// of every authenticated API (decodeAuthed), then the shortcode, a
// Kenya-time timestamp close to now and the matching password. It answers
// the error itself and returns ok=false.
func (s *Sim) decodeRequest(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	body, ok := s.decodeAuthed(w, r)
	if !ok {
		return nil, false
	}
	if str(body, "BusinessShortCode") != s.cfg.ShortCode {
		badRequest(w, "BusinessShortCode")
		return nil, false
	}
	ts := str(body, "Timestamp")
	t, err := mpesa.ParseTimestamp(ts)
	if err != nil || absDuration(s.cfg.NowFunc().Sub(t)) > time.Hour {
		badRequest(w, "Timestamp")
		return nil, false
	}
	if str(body, "Password") != mpesa.Password(s.cfg.ShortCode, s.cfg.Passkey, ts) {
		writeError(w, http.StatusInternalServerError, "500.001.1001", "Wrong credentials")
		return nil, false
	}
	return body, true
}

// str reads a field sent as a string or a number.
func str(body map[string]any, key string) string {
	switch v := body[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return ""
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// validCallbackURL mirrors Daraja's URL checks that matter locally: an
// absolute http(s) URL with a host and no whitespace.
func validCallbackURL(u string) bool {
	if u == "" || strings.ContainsAny(u, " \t\r\n") {
		return false
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return false
	}
	rest := u[strings.Index(u, "://")+3:]
	return rest != "" && rest[0] != '/'
}
