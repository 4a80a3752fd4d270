package celery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ContentTypeJSON is the only serializer a Go worker accepts.
const ContentTypeJSON = "application/json"

// Message is one Celery task message of protocol v2.
type Message struct {
	ID   string // header id (= correlation_id)
	Task string // header task, e.g. "payments.tasks.process_payment_callback"

	// Args and Kwargs are the call's arguments as raw JSON; decode them with
	// Unmarshal (kombu wrappers) or use Arg.
	Args   []json.RawMessage
	Kwargs map[string]json.RawMessage
	Embed  Embed

	Retries      int       // 0 on the first send, +1 per retry
	ETA          time.Time // zero: run now
	Expires      time.Time // zero: never expires
	TimeLimit    TimeLimit
	RootID       string
	ParentID     string
	Group        string
	Shadow       string
	IgnoreResult bool

	ReplyTo  string // AMQP reply_to (used by the rpc:// backend only)
	Priority uint8

	// Extra holds every other header (lang, argsrepr, origin, stamps…),
	// carried over unchanged when the message is republished.
	Extra amqp.Table

	// body is the body as received, republished byte for byte so kombu
	// wrappers and argument order survive a retry or a parked ETA.
	body []byte
}

// TimeLimit is the task's [hard, soft] limit; zero means none. The hard
// limit ends the task (TimeLimitExceeded); the soft one is advisory here.
type TimeLimit struct {
	Hard time.Duration
	Soft time.Duration
}

// Embed is the third body element: canvas links. A plain .delay() has all
// four null.
type Embed struct {
	Callbacks json.RawMessage `json:"callbacks,omitempty"`
	Errbacks  json.RawMessage `json:"errbacks,omitempty"`
	Chain     json.RawMessage `json:"chain,omitempty"`
	Chord     json.RawMessage `json:"chord,omitempty"`
}

// Canvas lists the canvas features the message uses (link, link_error,
// chain, chord); empty for a plain task.
func (e Embed) Canvas() []string {
	var used []string
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"link", e.Callbacks}, {"link_error", e.Errbacks}, {"chain", e.Chain}, {"chord", e.Chord}} {
		if !isEmptyJSON(f.raw) {
			used = append(used, f.name)
		}
	}
	return used
}

func isEmptyJSON(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "" || s == "null" || s == "[]" || s == "{}"
}

// DecodeError says why a delivery is not a task a Go worker can run. ID and
// Task are filled when the headers had them, so the caller can still store
// Exception as the task's FAILURE result.
type DecodeError struct {
	ID        string
	Task      string
	Reason    string
	Exception *Exception
}

func (e *DecodeError) Error() string { return "celery message: " + e.Reason }

// Decode reads a protocol v2 JSON task message from a delivery. Any message
// it cannot run (protocol v1, another serializer, compression, a malformed
// header or body) yields a *DecodeError.
func Decode(d amqp.Delivery) (*Message, error) {
	h := d.Headers
	m := &Message{ReplyTo: d.ReplyTo, Priority: d.Priority, Extra: amqp.Table{}}
	m.Task, _ = headerString(h, HeaderTask)
	m.ID, _ = headerString(h, HeaderID)
	if m.ID == "" {
		m.ID = d.CorrelationId
	}
	fail := func(exc *Exception, format string, args ...any) (*Message, error) {
		return nil, &DecodeError{ID: m.ID, Task: m.Task, Reason: fmt.Sprintf(format, args...), Exception: exc}
	}
	if m.Task == "" {
		return fail(NotImplementedError("task message protocol v1 is not supported by FundiGO workers; use task_protocol=2 (Celery's default)"),
			"no task header: protocol v1 or not a Celery message")
	}
	if m.ID == "" {
		return fail(nil, "task %s has no id", m.Task)
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(d.ContentType, ";")[0]))
	if ct != ContentTypeJSON {
		return fail(ContentDisallowed(fmt.Sprintf("Refusing to deserialize untrusted content of type %s: FundiGO workers accept only %s (task_serializer='json')", d.ContentType, ContentTypeJSON)),
			"content type %q is not supported", d.ContentType)
	}
	if enc := strings.ToLower(d.ContentEncoding); enc != "" && enc != "utf-8" && enc != "utf8" {
		return fail(ContentDisallowed(fmt.Sprintf("content encoding %s is not supported by FundiGO workers (want utf-8)", d.ContentEncoding)),
			"content encoding %q is not supported", d.ContentEncoding)
	}
	if c, _ := headerString(h, HeaderCompression); c != "" {
		return fail(ContentDisallowed(fmt.Sprintf("compressed task messages (%s) are not supported by FundiGO workers; unset task_compression", c)),
			"compression %q is not supported", c)
	}
	if err := m.readHeaders(h); err != nil {
		return fail(ValueError(err.Error()), "%v", err)
	}
	if err := m.readBody(d.Body); err != nil {
		return fail(ValueError(err.Error()), "%v", err)
	}
	m.body = d.Body
	return m, nil
}

func (m *Message) readHeaders(h amqp.Table) error {
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	m.Retries, err = headerInt(h, HeaderRetries)
	collect(err)
	m.ETA, err = headerTime(h, HeaderETA)
	collect(err)
	m.Expires, err = headerTime(h, HeaderExpires)
	collect(err)
	m.TimeLimit, err = headerTimeLimit(h)
	collect(err)
	m.RootID, err = headerString(h, HeaderRootID)
	collect(err)
	m.ParentID, err = headerString(h, HeaderParentID)
	collect(err)
	m.Group, err = headerString(h, HeaderGroup)
	collect(err)
	m.Shadow, err = headerString(h, HeaderShadow)
	collect(err)
	m.IgnoreResult, err = headerBool(h, HeaderIgnoreResult)
	collect(err)
	for k, v := range h {
		if !knownHeaders[k] {
			m.Extra[k] = v
		}
	}
	return errors.Join(errs...)
}

// readBody decodes [args, kwargs, embed].
func (m *Message) readBody(body []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(body, &parts); err != nil || len(parts) != 3 {
		return errors.New("body is not a JSON [args, kwargs, embed] list")
	}
	if !isNull(parts[0]) {
		if err := json.Unmarshal(parts[0], &m.Args); err != nil {
			return errors.New("body: args is not a list")
		}
	}
	if !isNull(parts[1]) {
		if err := json.Unmarshal(parts[1], &m.Kwargs); err != nil {
			return errors.New("body: kwargs is not an object")
		}
	}
	if !isNull(parts[2]) {
		if err := json.Unmarshal(parts[2], &m.Embed); err != nil {
			return errors.New("body: embed is not an object")
		}
	}
	// Reject kombu wrappers nobody can decode now, as kombu's loads would,
	// rather than in the middle of a handler.
	var v any
	if err := Unmarshal(parts[0], &v); err != nil {
		return fmt.Errorf("body: args: %w", err)
	}
	if err := Unmarshal(parts[1], &v); err != nil {
		return fmt.Errorf("body: kwargs: %w", err)
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// Arg returns the argument at position i, or the keyword argument name when
// the caller passed it by name (Python allows either).
func (m *Message) Arg(i int, name string) (json.RawMessage, bool) {
	if v, ok := m.Kwargs[name]; ok {
		return v, true
	}
	if i < len(m.Args) {
		return m.Args[i], true
	}
	return nil, false
}

// NewMessage builds a task message as Celery's .delay(*args, **kwargs) does:
// a fresh UUID4 id (also the root id), retries 0, arguments encoded with
// Marshal (kombu wrappers for time.Time, uuid.UUID, Decimal and []byte).
func NewMessage(task string, args []any, kwargs map[string]any) (*Message, error) {
	m := &Message{ID: uuid.NewString(), Task: task, Kwargs: map[string]json.RawMessage{}, Extra: amqp.Table{HeaderLang: "py"}}
	m.RootID = m.ID
	for i, a := range args {
		b, err := Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encode argument %d of %s: %w", i, task, err)
		}
		m.Args = append(m.Args, b)
	}
	for k, v := range kwargs {
		b, err := Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode argument %s of %s: %w", k, task, err)
		}
		m.Kwargs[k] = b
	}
	return m, nil
}

// Publishing encodes m for basic.publish: the properties kombu sets
// (correlation_id, application/json, utf-8, persistent, reply_to) and every
// v2 header, each present and None when empty. A decoded message keeps its
// original body byte for byte; Extra headers are carried over.
func (m *Message) Publishing() (amqp.Publishing, error) {
	body := m.body
	if body == nil {
		args := m.Args
		if args == nil {
			args = []json.RawMessage{}
		}
		kwargs := m.Kwargs
		if kwargs == nil {
			kwargs = map[string]json.RawMessage{}
		}
		embed := map[string]json.RawMessage{"callbacks": nullRaw(m.Embed.Callbacks), "errbacks": nullRaw(m.Embed.Errbacks),
			"chain": nullRaw(m.Embed.Chain), "chord": nullRaw(m.Embed.Chord)}
		var err error
		if body, err = json.Marshal([]any{args, kwargs, embed}); err != nil {
			return amqp.Publishing{}, fmt.Errorf("encode body of task %s: %w", m.ID, err)
		}
	}
	h := maps.Clone(m.Extra)
	if h == nil {
		h = amqp.Table{}
	}
	h[HeaderTask] = m.Task
	h[HeaderID] = m.ID
	h[HeaderRetries] = int64(m.Retries)
	h[HeaderETA] = nullableTime(m.ETA)
	h[HeaderExpires] = nullableTime(m.Expires)
	h[HeaderTimeLimit] = []any{nullableSeconds(m.TimeLimit.Hard), nullableSeconds(m.TimeLimit.Soft)}
	h[HeaderRootID] = nullable(m.RootID)
	h[HeaderParentID] = nullable(m.ParentID)
	h[HeaderGroup] = nullable(m.Group)
	h[HeaderShadow] = nullable(m.Shadow)
	h[HeaderIgnoreResult] = m.IgnoreResult
	return amqp.Publishing{
		ContentType:     ContentTypeJSON,
		ContentEncoding: "utf-8",
		CorrelationId:   m.ID,
		ReplyTo:         m.ReplyTo,
		DeliveryMode:    amqp.Persistent,
		Priority:        m.Priority,
		Headers:         h,
		Body:            body,
	}, nil
}

func nullRaw(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
