// Package sentryx reports errors to Sentry when FUNDIGO_SENTRY_DSN is set:
// API panics and 5xx answers, permanently failed tasks and dead-lettered
// messages. A Reporter with no DSN does nothing, so callers never check.
//
// Nothing personal or secret leaves: no request bodies, headers, cookies,
// user or IP (SendDefaultPII is off and events are scrubbed before sending),
// and every phone-number-looking digit run in a message is masked. Events
// carry the trace_id of the work that failed, to find its trace.
package sentryx

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/getsentry/sentry-go"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/config"
	"fundigo/pkg/tracing"
)

// Reporter sends events to one Sentry project; the zero value and nil are
// disabled reporters.
type Reporter struct {
	client *sentry.Client
}

// Info names the release and role of the process.
type Info struct {
	Version string
	Role    string
}

// New returns the reporter cfg asks for: disabled while the DSN is empty.
// It contacts nothing until the first event.
func New(cfg config.Sentry, info Info) (*Reporter, error) {
	if cfg.DSN == "" {
		return &Reporter{}, nil
	}
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              cfg.DSN.Reveal(),
		Environment:      cfg.Environment,
		Release:          "fundigo@" + info.Version,
		ServerName:       "fundigo-" + info.Role,
		AttachStacktrace: true,
		SendDefaultPII:   false,
		BeforeSend:       scrub,
		// No default integrations that read the environment or modules.
		Integrations: func([]sentry.Integration) []sentry.Integration { return nil },
	})
	if err != nil {
		return nil, errors.New("sentry: invalid FUNDIGO_SENTRY_DSN") // the error may echo the DSN's key
	}
	return &Reporter{client: c}, nil
}

// Enabled reports whether events are sent.
func (r *Reporter) Enabled() bool { return r != nil && r.client != nil }

// CaptureError reports err, tagged with tags and ctx's trace id.
func (r *Reporter) CaptureError(ctx context.Context, err error, tags map[string]string) {
	if !r.Enabled() || err == nil {
		return
	}
	scope := r.scope(ctx, tags)
	r.client.CaptureException(err, &sentry.EventHint{Context: ctx}, scope)
}

// CapturePanic reports a recovered panic value.
func (r *Reporter) CapturePanic(ctx context.Context, v any, tags map[string]string) {
	if !r.Enabled() {
		return
	}
	err, ok := v.(error)
	if !ok {
		err = fmt.Errorf("panic: %v", v)
	}
	scope := r.scope(ctx, tags)
	scope.SetLevel(sentry.LevelFatal)
	r.client.CaptureException(err, &sentry.EventHint{Context: ctx, RecoveredException: v}, scope)
}

func (r *Reporter) scope(ctx context.Context, tags map[string]string) *sentry.Scope {
	scope := sentry.NewScope()
	scope.SetTags(tags)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		scope.SetTag("trace_id", sc.TraceID().String())
	}
	if rid := tracing.RequestID(ctx); rid != "" {
		scope.SetTag("request_id", rid)
	}
	return scope
}

// Flush waits up to timeout for queued events to be sent (at shutdown),
// then releases the client.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if !r.Enabled() {
		return true
	}
	ok := r.client.Flush(timeout)
	r.client.Close()
	return ok
}

// phones matches Kenyan phone numbers as people and Daraja write them
// (07XXXXXXXX, 2547XXXXXXXX, +254 1XXXXXXXX, …) and any other long digit run.
var phones = regexp.MustCompile(`\+?\d[\d ]{8,}\d`)

// Mask replaces every phone-like digit run in s.
func Mask(s string) string { return phones.ReplaceAllString(s, "[redacted]") }

// scrub removes what may identify a person or carry a secret.
func scrub(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	ev.Request = nil
	ev.User = sentry.User{}
	ev.ServerName = Mask(ev.ServerName)
	ev.Message = Mask(ev.Message)
	for i := range ev.Exception {
		ev.Exception[i].Value = Mask(ev.Exception[i].Value)
	}
	ev.Breadcrumbs = nil
	return ev
}
