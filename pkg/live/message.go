package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Control message types: they are not domain events and carry no data.
const (
	// TypeReady opens every subscription; its ID is the owner's stream
	// position at that moment (resume from it to miss nothing after it).
	TypeReady = "ready"
	// TypeRefetch says the resume id is beyond the retention window (or
	// the history after it was trimmed): reload state over REST, then
	// carry on with the live messages that follow.
	TypeRefetch = "refetch"
	// TypeReconnect says the server is going away (shutdown or a Redis
	// resync): reconnect, resuming from the last id received.
	TypeReconnect = "reconnect"
	// TypeError says the server dropped the connection (slow consumer).
	TypeError = "error"
)

// Event is what a producer appends for one owner: the domain event's type
// (its routing key), when the change committed, and its JSON body.
type Event struct {
	// Owner is the user the event is about (the only one who receives it,
	// besides services).
	Owner string
	// Type is the routing key, e.g. "payment.paid".
	Type string
	// MessageID deduplicates redeliveries (the AMQP message id); "" turns
	// deduplication off.
	MessageID string
	// At is when the change committed (the outbox row's time).
	At time.Time
	// Data is the event body, a JSON object.
	Data json.RawMessage
}

// Message is one message to a client, the same JSON over WebSocket and SSE.
type Message struct {
	// ID is the owner's stream id ("<ms>-<seq>"); empty for refetch,
	// reconnect and error.
	ID     string          `json:"id,omitempty"`
	Type   string          `json:"type"`
	At     *time.Time      `json:"at,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// JSON encodes m; a Message always encodes (Data is already JSON).
func (m Message) JSON() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Data was validated as JSON when the event was appended.
		b, _ = json.Marshal(Message{ID: m.ID, Type: m.Type, At: m.At, Reason: "undecodable data"})
	}
	return b
}

// Control reports whether m is a control message (not a domain event).
func (m Message) Control() bool {
	switch m.Type {
	case TypeReady, TypeRefetch, TypeReconnect, TypeError:
		return true
	}
	return false
}

// MaxOwnerLen bounds an owner id (a user id from a JWT or an event).
const MaxOwnerLen = 128

// ValidOwner reports whether owner can name a stream: 1..128 printable
// characters, no spaces (the JWT user_id rule).
func ValidOwner(owner string) bool {
	if owner == "" || len(owner) > MaxOwnerLen {
		return false
	}
	for _, r := range owner {
		if !unicode.IsPrint(r) || r == ' ' {
			return false
		}
	}
	return true
}

// StreamID is a parsed Redis stream id, ordered by (MS, Seq).
type StreamID struct {
	MS, Seq uint64
}

// ErrBadID: a resume id that is not a stream id ("<ms>-<seq>").
var ErrBadID = errors.New("resume id is not a stream id (<ms>-<seq>)")

// ParseStreamID parses "<ms>-<seq>" (or "<ms>", seq 0).
func ParseStreamID(s string) (StreamID, error) {
	if s == "" || len(s) > 41 {
		return StreamID{}, ErrBadID
	}
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return StreamID{}, fmt.Errorf("%w: %.41q", ErrBadID, s)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return StreamID{}, fmt.Errorf("%w: %.41q", ErrBadID, s)
		}
	}
	return StreamID{MS: ms, Seq: seq}, nil
}

// String formats the id as Redis does.
func (id StreamID) String() string {
	return strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less reports whether id sorts before o.
func (id StreamID) Less(o StreamID) bool {
	return id.MS < o.MS || (id.MS == o.MS && id.Seq < o.Seq)
}

// Time is when the id was generated (its millisecond part).
func (id StreamID) Time() time.Time { return time.UnixMilli(int64(id.MS)) } //nolint:gosec // ms since 1970 fits
