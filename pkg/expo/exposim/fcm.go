package exposim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, "invalid_request", "unreadable form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeOAuthError(w, "unsupported_grant_type", "want jwt-bearer")
		return
	}
	claims := jwt.MapClaims{}
	var err error
	if s.opts.FCMPublicKey != nil {
		_, err = jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims,
			func(*jwt.Token) (any, error) { return s.opts.FCMPublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.opts.NowFunc))
	} else {
		_, _, err = jwt.NewParser().ParseUnverified(r.PostForm.Get("assertion"), claims)
	}
	if err != nil {
		writeOAuthError(w, "invalid_grant", "bad assertion")
		return
	}
	iss, _ := claims["iss"].(string)
	scope, _ := claims["scope"].(string)
	if iss == "" || !strings.Contains(scope, fcmScope) {
		writeOAuthError(w, "invalid_scope", "want iss and the firebase.messaging scope")
		return
	}
	tok := "sim-" + uuid.NewString()
	s.mu.Lock()
	s.fcmTokens[tok] = s.opts.NowFunc().Add(s.opts.FCMTokenTTL)
	s.stats.TokenRequests++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(s.opts.FCMTokenTTL.Seconds()), "token_type": "Bearer",
	})
}

func writeOAuthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

type fcmWire struct {
	Message struct {
		Token        string `json:"token"`
		Notification *struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"notification"`
		Data    map[string]any `json:"data"`
		Android *struct {
			Priority    string `json:"priority"`
			CollapseKey string `json:"collapse_key"`
		} `json:"android"`
	} `json:"message"`
}

func (s *Sim) handleFCMSend(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r, r.Header.Get("Content-Encoding") == "gzip")
	if !s.wait(r) {
		return
	}
	if !s.authorized(r) {
		s.fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.", 0)
		return
	}
	if f, ok := s.takeFailure(true); ok {
		code, status := fcmFailureCode(f.status)
		s.fcmError(w, f.status, status, code, "injected failure", int(math.Ceil(f.retryAfter.Seconds())))
		return
	}
	var msg fcmWire
	if err == nil {
		err = json.Unmarshal(raw, &msg)
	}
	if err == nil && msg.Message.Token == "" {
		err = errors.New("message.token is required")
	}
	for k, v := range msg.Message.Data {
		if _, ok := v.(string); !ok && err == nil {
			err = fmt.Errorf("data[%q] is not a string", k)
		}
	}
	if err == nil && len(raw)-len(msg.Message.Token) > 4096 {
		err = errors.New("message is too big")
	}
	if err != nil {
		s.fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", err.Error(), 0)
		return
	}
	tok := msg.Message.Token
	if strings.Contains(tok, "Invalid") {
		s.fcmError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.", 0)
		return
	}
	rec := Received{Provider: "fcm", Token: tok, Data: msg.Message.Data, At: s.opts.NowFunc()}
	if n := msg.Message.Notification; n != nil {
		rec.Title, rec.Body = n.Title, n.Body
	}
	if a := msg.Message.Android; a != nil {
		rec.Priority, rec.CollapseID = strings.ToLower(a.Priority), a.CollapseKey
	}
	s.mu.Lock()
	s.fcmSeq++
	seq := s.fcmSeq
	s.stats.FCMMessages++
	s.stats.PerToken[tok]++
	s.receiveLocked(rec)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"name": "projects/" + r.PathValue("project") + "/messages/0:" + strconv.Itoa(seq),
	})
}

func (s *Sim) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.fcmTokens[tok]
	return ok && s.opts.NowFunc().Before(exp)
}

func fcmFailureCode(status int) (code, rpcStatus string) {
	switch status {
	case http.StatusTooManyRequests:
		return "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE", "UNAVAILABLE"
	case http.StatusUnauthorized:
		return "", "UNAUTHENTICATED"
	default:
		return "INTERNAL", "INTERNAL"
	}
}

func (s *Sim) fcmError(w http.ResponseWriter, httpStatus int, status, code, msg string, retryAfterSec int) {
	s.mu.Lock()
	s.stats.FCMRejected++
	s.mu.Unlock()
	if retryAfterSec > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSec))
	}
	e := map[string]any{"code": httpStatus, "message": msg, "status": status}
	if code != "" {
		e["details"] = []map[string]string{{
			"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code,
		}}
	}
	writeJSON(w, httpStatus, map[string]any{"error": e})
}
