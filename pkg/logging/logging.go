// Package logging builds the root zerolog logger and holds the field names and
// masking helpers every component uses, so log lines are uniform and never
// carry personal data or secrets (ARCHITECTURE.md guarantee 7).
package logging

import (
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
	FieldMSISDN            = "msisdn"
	FieldNotificationID    = "notification_id"
	FieldTechnicianID      = "technician_id"
	FieldRoutingKey        = "routing_key"
	FieldSchedule          = "schedule"
)

// Options selects the level and the encoding of the root logger.
type Options struct {
	Level  string // trace|debug|info|warn|error
	Format string // json|console
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
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Nop(), fmt.Errorf("unknown log format %q (want json or console)", opts.Format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
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
