package exposim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"fundigo/pkg/expo"
)

// maxBody caps request bodies (100 messages of 4 KiB fit easily).
const maxBody = 8 << 20

// wireMessage is a message as it arrives: `to` may be a string or an array.
type wireMessage struct {
	expo.Message
	To json.RawMessage `json:"to"`
}

func (s *Sim) handleSend(w http.ResponseWriter, r *http.Request) {
	// Arrival time, taken before any decoding so the per-second counters
	// reflect when the client sent, not how fast the simulator parsed.
	now := s.opts.NowFunc()
	gz := r.Header.Get("Content-Encoding") == "gzip"
	raw, err := readBody(r, gz)
	if err != nil {
		s.reject(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error(), 0)
		return
	}
	// Wait after reading the body: only then does net/http notice a client
	// that gave up and cancel r.Context().
	if !s.wait(r) {
		return
	}
	if f, ok := s.takeFailure(false); ok {
		s.rejectFailure(w, f)
		return
	}
	msgs, err := decodeMessages(raw)
	if err != nil {
		s.reject(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error(), 0)
		return
	}
	if len(msgs) > expo.MaxMessagesPerRequest {
		s.reject(w, http.StatusBadRequest, "PUSH_TOO_MANY_NOTIFICATIONS",
			fmt.Sprintf("You are trying to send more than %d push notifications in one request.", expo.MaxMessagesPerRequest), 0)
		return
	}

	// Each message's own verdict needs no shared state: decided before the
	// lock, so concurrent requests encode and check in parallel.
	refused := make([]*expo.Ticket, len(msgs))
	for i, m := range msgs {
		refused[i] = refuse(m)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec := now.Unix()
	if s.rate > 0 && s.stats.PerSecond[sec]+len(msgs) > s.rate {
		s.stats.Rejected++
		writeRequestError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
			"The request rate exceeds the limit for this project.", 1)
		return
	}
	tickets := make([]expo.Ticket, len(msgs))
	for i, m := range msgs {
		tickets[i] = s.ticketLocked(m, refused[i])
		s.stats.PerToken[m.To]++
		s.receiveLocked(Received{
			Provider: "expo", Token: m.To, Title: m.Title, Body: m.Body, Data: m.Data,
			Priority: m.Priority, CollapseID: m.CollapseID, At: now,
		})
	}
	s.stats.SendRequests++
	s.stats.Messages += len(msgs)
	s.stats.PerSecond[sec] += len(msgs)
	s.stats.RequestSizes = append(s.stats.RequestSizes, len(msgs))
	if gz {
		s.stats.Gzipped++
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": tickets})
}

// refuse returns the error ticket Expo answers for m itself (an unknown
// token, a payload over the limit), or nil.
func refuse(m expo.Message) *expo.Ticket {
	fail := func(code, msg string) *expo.Ticket {
		return &expo.Ticket{Status: expo.StatusError, Message: msg,
			Details: &expo.Details{Error: code, ExpoPushToken: m.To}}
	}
	invalid := strings.Contains(m.To, "Invalid") && !strings.Contains(m.To, "InvalidLater")
	switch err := m.Validate(); {
	case invalid || errors.Is(err, expo.ErrInvalidToken):
		return fail(expo.CodeDeviceNotRegistered,
			fmt.Sprintf("%q is not a registered push notification recipient", m.To))
	case err != nil:
		return fail(expo.CodeMessageTooBig, "Message too big")
	}
	return nil
}

// ticketLocked answers a message: its refusal, or an ok ticket whose
// receipt is ok unless the token asks for a later DeviceNotRegistered.
func (s *Sim) ticketLocked(m expo.Message, refused *expo.Ticket) expo.Ticket {
	if refused != nil {
		s.stats.TicketErrors++
		return *refused
	}
	id := s.tickets.next()
	if strings.Contains(m.To, "InvalidLater") {
		s.receipts[id] = expo.Receipt{Status: expo.StatusError,
			Message: fmt.Sprintf("%q is not a registered push notification recipient", m.To),
			Details: &expo.Details{Error: expo.CodeDeviceNotRegistered, ExpoPushToken: m.To}}
	}
	return expo.Ticket{Status: expo.StatusOK, ID: id}
}

// receiptLocked is the receipt of ticket id, if the simulator issued it.
func (s *Sim) receiptLocked(id string) (expo.Receipt, bool) {
	if rec, ok := s.receipts[id]; ok {
		return rec, true
	}
	if s.tickets.issued(id) {
		return expo.Receipt{Status: expo.StatusOK}, true
	}
	return expo.Receipt{}, false
}

// ticketIDs issues ticket ids shaped like Expo's (UUIDs): a random prefix
// per simulator and a sequence number, so an ok receipt needs no memory of
// its own (Expo keeps receipts a day; a simulator running for days would
// otherwise keep every ticket).
type ticketIDs struct {
	prefix string // "xxxxxxxx-xxxx-4xxx-8xxx-"
	seq    uint64
}

func newTicketIDs() ticketIDs {
	u := uuid.New()
	return ticketIDs{prefix: u.String()[:24]}
}

func (t *ticketIDs) next() string {
	t.seq++
	return fmt.Sprintf("%s%012x", t.prefix, t.seq)
}

func (t *ticketIDs) issued(id string) bool {
	if len(id) != 36 || !strings.HasPrefix(id, t.prefix) {
		return false
	}
	n, err := strconv.ParseUint(id[24:], 16, 64)
	return err == nil && n >= 1 && n <= t.seq
}

func (s *Sim) handleReceipts(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r, r.Header.Get("Content-Encoding") == "gzip")
	if !s.wait(r) {
		return
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &req)
	}
	if err != nil {
		writeRequestError(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error(), 0)
		return
	}
	if len(req.IDs) > expo.MaxReceiptIDsPerRequest {
		writeRequestError(w, http.StatusBadRequest, "PUSH_TOO_MANY_RECEIPTS",
			fmt.Sprintf("You are trying to get more than %d push receipts in one request.", expo.MaxReceiptIDsPerRequest), 0)
		return
	}
	s.mu.Lock()
	out := make(map[string]expo.Receipt, len(req.IDs))
	for _, id := range req.IDs {
		if rec, ok := s.receiptLocked(id); ok {
			out[id] = rec
		}
	}
	s.stats.ReceiptRequests++
	s.stats.ReceiptIDs += len(req.IDs)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Sim) reject(w http.ResponseWriter, status int, code, msg string, retryAfterSec int) {
	s.mu.Lock()
	s.stats.Rejected++
	s.mu.Unlock()
	writeRequestError(w, status, code, msg, retryAfterSec)
}

func (s *Sim) rejectFailure(w http.ResponseWriter, f failure) {
	code := "INTERNAL_SERVER_ERROR"
	if f.status == http.StatusTooManyRequests {
		code = "TOO_MANY_REQUESTS"
	}
	s.reject(w, f.status, code, "injected failure", int(math.Ceil(f.retryAfter.Seconds())))
}

func writeRequestError(w http.ResponseWriter, status int, code, msg string, retryAfterSec int) {
	if retryAfterSec > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSec))
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request, gz bool) ([]byte, error) {
	var body io.Reader = io.LimitReader(r.Body, maxBody)
	if gz {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err := zr.Reset(body); err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		defer gzipReaders.Put(zr)
		body = io.LimitReader(zr, maxBody)
	}
	return io.ReadAll(body)
}

// gzipReaders reuses decompressors across requests (the sender under
// benchmark runs this simulator in its own process).
var gzipReaders sync.Pool

// decodeMessages accepts a message or an array and expands `to` arrays, one
// message per recipient, as Expo counts them.
func decodeMessages(raw []byte) ([]expo.Message, error) {
	raw = bytes.TrimSpace(raw)
	var wire []wireMessage
	if len(raw) > 0 && raw[0] == '{' {
		var one wireMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("decode message: %w", err)
		}
		wire = []wireMessage{one}
	} else if err := json.Unmarshal(raw, &wire); err != nil {
		return nil, fmt.Errorf("decode messages: %w", err)
	}
	var out []expo.Message
	for i, wm := range wire {
		var tos []string
		var one string
		if err := json.Unmarshal(wm.To, &one); err == nil {
			tos = []string{one}
		} else if err := json.Unmarshal(wm.To, &tos); err != nil || len(tos) == 0 {
			return nil, fmt.Errorf("message %d: \"to\" must be a token or an array of tokens", i)
		}
		for _, to := range tos {
			m := wm.Message
			m.To = to
			out = append(out, m)
		}
	}
	return out, nil
}
