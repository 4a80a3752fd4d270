package amqpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/outcome"
)

// Handler handles one event decoded from a JSON message body. It never sees
// the AMQP delivery (InfoFrom(ctx) has its routing key and message id), and
// its result is classified like any handler's: nil or already done (ack),
// outcome.Permanent (dead-letter), anything else (delayed redelivery).
type Handler[T any] func(ctx context.Context, msg T) error

// DefaultMaxBody caps the body a Handler decodes; larger messages are
// dead-lettered undecoded.
const DefaultMaxBody = 1 << 20

// DecodeOption tunes the JSON decoding of a Handler.
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	strict  bool
	maxBody int
}

// Strict rejects (permanently) a body with fields T does not have, for
// contracts where an unknown field means a producer bug or a newer version.
func Strict() DecodeOption { return func(c *decodeConfig) { c.strict = true } }

// MaxBody overrides DefaultMaxBody.
func MaxBody(n int) DecodeOption { return func(c *decodeConfig) { c.maxBody = n } }

// validator is implemented by event types that check themselves.
type validator interface{ Validate() error }

// JSON adapts h to a HandlerFunc: it decodes the body into a T and calls h.
// A body that is too large, does not decode, has trailing data, or (when T
// has a Validate() error method) is invalid is a permanent failure: the
// message is dead-lettered at once, and h is not called.
func JSON[T any](h Handler[T], opts ...DecodeOption) HandlerFunc {
	cfg := decodeConfig{maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(&cfg)
	}
	return func(ctx context.Context, d amqp.Delivery) error {
		msg, err := decode[T](d, cfg)
		if err != nil {
			return outcome.Permanent(fmt.Errorf("decode %s message %s: %w", d.RoutingKey, d.MessageId, err))
		}
		return h(ctx, msg)
	}
}

func decode[T any](d amqp.Delivery, cfg decodeConfig) (T, error) {
	var msg T
	if cfg.maxBody > 0 && len(d.Body) > cfg.maxBody {
		return msg, fmt.Errorf("body of %d bytes exceeds %d", len(d.Body), cfg.maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(d.Body))
	if cfg.strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&msg); err != nil {
		return msg, err
	}
	if dec.More() {
		return msg, errors.New("trailing data after the JSON value")
	}
	if v, ok := any(&msg).(validator); ok {
		if err := v.Validate(); err != nil {
			return msg, fmt.Errorf("invalid: %w", err)
		}
	}
	return msg, nil
}

// Route sends messages whose routing key matches Key (a topic pattern: "*"
// is one word, "#" zero or more) to Handler.
type Route struct {
	Key     string
	Handler HandlerFunc
}

// Dispatch returns a HandlerFunc that calls the handler of the first route
// whose key matches the message's routing key (Info.RoutingKey when set, so
// a delayed redelivery still finds its route). A message no route matches is
// a permanent failure.
func Dispatch(routes ...Route) HandlerFunc {
	return func(ctx context.Context, d amqp.Delivery) error {
		key := d.RoutingKey
		if info, ok := InfoFrom(ctx); ok && info.RoutingKey != "" {
			key = info.RoutingKey
		}
		for _, r := range routes {
			if TopicMatch(r.Key, key) {
				return r.Handler(ctx, d)
			}
		}
		return outcome.Permanent(fmt.Errorf("no handler for routing key %q", key))
	}
}

// TopicMatch reports whether routing key matches a topic-exchange binding
// pattern.
func TopicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(p, k []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "#":
			for i := 0; i <= len(k); i++ {
				if matchWords(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || k[0] != p[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}

// closureSuffix is what the compiler appends to a function literal or a
// method value.
var closureSuffix = regexp.MustCompile(`(\.func\d+|-fm)+$`)

// FuncName names the Go function behind fn
// ("fundigo/workers/payments.handleCallbackNotice"), for ConsumerSpec.Name:
// a typed handler wrapped by JSON would otherwise be listed as JSON's
// closure in `fundigo worker --bindings`.
func FuncName(fn any) string {
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.Kind() != reflect.Func || v.IsNil() {
		return "(none)"
	}
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return "(unknown)"
	}
	return closureSuffix.ReplaceAllString(f.Name(), "")
}
