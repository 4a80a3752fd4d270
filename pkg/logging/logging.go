// Package logging builds the root zerolog logger and holds the field names and
// masking helpers every component uses, so log lines are uniform and never
// carry personal data or secrets (ARCHITECTURE.md guarantee 7).
package logging

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Field names shared by every component (STYLE.md rule 29).
const (
	FieldComponent         = "component"
	FieldPaymentID         = "payment_id"
	FieldCheckoutRequestID = "checkout_request_id"
	FieldTaskID            = "task_id"
	FieldTaskType          = "task_type"
	FieldQueue             = "queue"
	FieldAttempt           = "attempt"
	FieldDurationMS        = "duration_ms"
	FieldResultCode        = "result_code"
	FieldRequestID         = "request_id"
	FieldTraceID           = "trace_id"
	FieldSpanID            = "span_id"
	FieldMSISDN            = "msisdn"
	FieldNotificationID    = "notification_id"
	FieldTechnicianID      = "technician_id"
	FieldRoutingKey        = "routing_key"
	FieldSchedule          = "schedule"
	FieldPayoutID          = "payout_id"
	FieldOriginatorConvID  = "originator_conversation_id"
)

// TimeFormat is RFC 3339 in UTC with milliseconds, the "time" of every line.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func init() {
	// zerolog keeps these process-wide; set once, before any logger runs.
	zerolog.TimeFieldFormat = TimeFormat
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

// Options selects the level and the encoding of the root logger, and the
// fields every line carries.
type Options struct {
	Level   string // trace|debug|info|warn|error
	Format  string // json|console
	Service string // "service" on every line, when set
	Version string // "version" on every line, when set
}

// New returns the root logger writing to w. It is built once in cmd and passed
// down; no package keeps a global logger.
func New(w io.Writer, opts Options) (zerolog.Logger, error) {
	lvl := zerolog.InfoLevel
	if opts.Level != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(opts.Level))
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("parse log level %q: %w", opts.Level, err)
		}
		lvl = l
	}
	switch opts.Format {
	case "", "json":
		w = lastKeyWins{w: w, key: []byte(`"` + FieldComponent + `":"`)}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	default:
		return zerolog.Nop(), fmt.Errorf("unknown log format %q (want json or console)", opts.Format)
	}
	ctx := zerolog.New(w).Level(lvl).With().Timestamp()
	if opts.Service != "" {
		ctx = ctx.Str("service", opts.Service)
	}
	if opts.Version != "" {
		ctx = ctx.Str("version", opts.Version)
	}
	return ctx.Logger(), nil
}

// WithRole adds the process's role ("api", "worker", …) to every line.
func WithRole(log zerolog.Logger, role string) zerolog.Logger {
	return log.With().Str("role", role).Logger()
}

// lastKeyWins drops all but the last "component" of a JSON line: a logger
// handed to a component that names itself again (workers → amqp_consumer)
// would otherwise write the key twice, which JSON parsers resolve
// differently. The innermost (last) name is the one kept. Lines with one
// component pass through untouched.
type lastKeyWins struct {
	w   io.Writer
	key []byte
}

func (l lastKeyWins) Write(p []byte) (int, error) {
	n := len(p)
	for bytes.Count(p, l.key) > 1 {
		i := bytes.Index(p, l.key)
		end := bytes.IndexByte(p[i+len(l.key):], '"')
		if end < 0 {
			break
		}
		end += i + len(l.key) + 1 // past the closing quote
		start := i
		if start > 0 && p[start-1] == ',' {
			start--
		} else if end < len(p) && p[end] == ',' {
			end++
		}
		p = append(append([]byte{}, p[:start]...), p[end:]...)
	}
	if _, err := l.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// MaskMSISDN keeps the country/operator prefix and the last four digits of a
// phone number: "254712345678" becomes "2547****5678". Anything too short to
// mask safely is replaced entirely.
func MaskMSISDN(msisdn string) string {
	if len(msisdn) < 9 {
		return "****"
	}
	return msisdn[:4] + strings.Repeat("*", len(msisdn)-8) + msisdn[len(msisdn)-4:]
}
