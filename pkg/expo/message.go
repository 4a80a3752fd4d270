package expo

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Limits published by Expo.
const (
	// MaxMessagesPerRequest is the most messages one send request may carry.
	MaxMessagesPerRequest = 100
	// MaxReceiptIDsPerRequest is the most ids one getReceipts request may carry.
	MaxReceiptIDsPerRequest = 1000
	// MaxPayloadBytes bounds what Expo forwards to APNs/FCM per message.
	MaxPayloadBytes = 4096
)

// Priority values accepted by Expo.
const (
	PriorityDefault = "default"
	PriorityNormal  = "normal"
	PriorityHigh    = "high"
)

// Message is one push message to one Expo push token. Only To is required.
// Fields follow Expo's message format; zero values are omitted on the wire.
type Message struct {
	To         string         `json:"to"`
	Title      string         `json:"title,omitempty"`
	Body       string         `json:"body,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	Sound      string         `json:"sound,omitempty"`
	Priority   string         `json:"priority,omitempty"`
	ChannelID  string         `json:"channelId,omitempty"`
	CategoryID string         `json:"categoryId,omitempty"`
	CollapseID string         `json:"collapseId,omitempty"`
	// TTL is the number of seconds the message may wait for redelivery; nil
	// leaves the provider default.
	TTL   *int `json:"ttl,omitempty"`
	Badge *int `json:"badge,omitempty"`
}

// PayloadSize is the size in bytes of the message as Expo would forward it,
// that is the JSON encoding without the recipient token.
func (m Message) PayloadSize() (int, error) {
	_, n, err := m.encode()
	return n, err
}

// encode returns the message's JSON encoding and its payload size (the
// encoding with an empty token): one encoding serves both the request body
// and the size check.
func (m Message) encode() (raw []byte, payload int, err error) {
	raw, err = json.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("encode message: %w", err)
	}
	tok, err := json.Marshal(m.To)
	if err != nil {
		return nil, 0, fmt.Errorf("encode message: %w", err)
	}
	return raw, len(raw) - len(tok) + len(`""`), nil
}

// Validate reports whether the message can be sent: a well-formed Expo push
// token and a payload within MaxPayloadBytes. The returned error wraps
// ErrInvalidToken or ErrPayloadTooLarge.
func (m Message) Validate() error {
	_, err := m.validated()
	return err
}

// validated is Validate that also returns the message's encoding, so a
// sender encodes each message once. The token is checked first, before
// anything is encoded.
func (m Message) validated() ([]byte, error) {
	if !IsPushToken(m.To) {
		return nil, ErrInvalidToken
	}
	raw, n, err := m.encode()
	if err != nil {
		return nil, err
	}
	return raw, payloadErr(n)
}

// CheckPayload is the payload half of Validate: an error wrapping
// ErrPayloadTooLarge when the message without its token is over
// MaxPayloadBytes. Messages that differ only in their token share it.
func (m Message) CheckPayload() error {
	n, err := m.PayloadSize()
	if err != nil {
		return err
	}
	return payloadErr(n)
}

func payloadErr(payload int) error {
	if payload > MaxPayloadBytes {
		return fmt.Errorf("%w: %d bytes", ErrPayloadTooLarge, payload)
	}
	return nil
}

// IsPushToken reports whether token looks like an Expo push token:
// ExponentPushToken[…] or ExpoPushToken[…] with a non-empty inner part made
// of printable ASCII other than brackets.
func IsPushToken(token string) bool {
	var inner string
	switch {
	case strings.HasPrefix(token, "ExponentPushToken["):
		inner = strings.TrimPrefix(token, "ExponentPushToken[")
	case strings.HasPrefix(token, "ExpoPushToken["):
		inner = strings.TrimPrefix(token, "ExpoPushToken[")
	default:
		return false
	}
	inner, ok := strings.CutSuffix(inner, "]")
	if !ok || inner == "" || len(inner) > 200 {
		return false
	}
	for _, r := range inner {
		if r <= ' ' || r > '~' || r == '[' || r == ']' {
			return false
		}
	}
	return true
}

// Status values of tickets and receipts.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Details carries the machine-readable part of a ticket or receipt error.
type Details struct {
	Error         string `json:"error,omitempty"`
	ExpoPushToken string `json:"expoPushToken,omitempty"`
}

// Ticket is Expo's answer for one message: ok with a receipt ID, or an error.
// An ok ticket means only that Expo accepted the message.
type Ticket struct {
	Status  string   `json:"status"`
	ID      string   `json:"id,omitempty"`
	Message string   `json:"message,omitempty"`
	Details *Details `json:"details,omitempty"`
}

// Err returns nil for an ok ticket and a *MessageError otherwise.
func (t Ticket) Err() error { return statusErr(t.Status, t.Message, t.Details) }

// Receipt is the later outcome of an ok ticket: ok once APNs/FCM accepted the
// message, or an error such as DeviceNotRegistered.
type Receipt struct {
	Status  string   `json:"status"`
	Message string   `json:"message,omitempty"`
	Details *Details `json:"details,omitempty"`
}

// Err returns nil for an ok receipt and a *MessageError otherwise.
func (r Receipt) Err() error { return statusErr(r.Status, r.Message, r.Details) }

func statusErr(status, msg string, d *Details) error {
	if status == StatusOK {
		return nil
	}
	code := ""
	if d != nil {
		code = d.Error
	}
	if code == "" && status != StatusError {
		code = "UnknownStatus"
	}
	return &MessageError{Code: code, Message: msg}
}
