package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"fundigo/pkg/payment"
	"fundigo/pkg/payout"
	"fundigo/pkg/sentryx"
	"fundigo/pkg/store"
	"fundigo/pkg/tracing"
	"fundigo/pkg/validation"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RequestID correlates the answer with the server's logs.
	RequestID string `json:"request_id,omitempty"`
	// Dependency names what failed on a 503: "postgres", "redis" (or empty
	// when the request ran out of time on something unidentified).
	Dependency string `json:"dependency,omitempty"`
	// headers to add to the response (e.g. Retry-After).
	headers map[string]string
}

// FieldError is one validation failure of one request field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// NewProblem builds a problem with the standard title for status.
func NewProblem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// WithHeader adds a response header to the problem's answer.
func (p *Problem) WithHeader(k, v string) *Problem {
	if p.headers == nil {
		p.headers = map[string]string{}
	}
	p.headers[k] = v
	return p
}

// Validation is a 422 listing every invalid field.
func Validation(errs ...FieldError) *Problem {
	p := NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields")
	p.Errors = errs
	return p
}

// Fields collects field errors; Err returns nil when there are none.
type Fields []FieldError

// Add records a field error.
func (f *Fields) Add(field, msg string) { *f = append(*f, FieldError{Field: field, Message: msg}) }

// Err returns a 422 problem, or nil when no field is invalid.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Validation(f...)
}

// errorHandler is the single mapping from errors to problem+json. Unknown
// errors become a generic 500 and are logged here, once.
func errorHandler(log zerolog.Logger, rep *sentryx.Reporter) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := toProblem(err)
		if p.Status >= 500 {
			l := tracing.LogContext(c.Request().Context(), log.With(), false).Logger()
			l.Error().Err(err).Str("method", c.Request().Method).Str("route", c.Path()).
				Str("request_id", c.Response().Header().Get(echo.HeaderXRequestID)).Msg("request failed")
			if p.Status != http.StatusServiceUnavailable { // a dependency down: metrics and alerts, not an error report
				rep.CaptureError(c.Request().Context(), err, map[string]string{"route": c.Path(), "method": c.Request().Method})
			}
		}
		p.Instance = c.Request().URL.Path
		if strings.Contains(c.Path(), ":token") {
			// never echo a secret path segment (webhook tokens) back
			p.Instance = c.Path()
		}
		if p.Status == http.StatusMethodNotAllowed && p.Detail == "" {
			p.Detail = c.Request().Method + " is not allowed on this path"
			if allow := c.Response().Header().Get(echo.HeaderAllow); allow != "" {
				p.Detail += "; it takes " + allow
			}
		}
		p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		for k, v := range p.headers {
			c.Response().Header().Set(k, v)
		}
		if c.Request().Method == http.MethodHead {
			c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
			c.Response().WriteHeader(p.Status)
			return
		}
		b, _ := json.Marshal(p)
		_ = c.Blob(p.Status, "application/problem+json", b)
	}
}

func toProblem(err error) *Problem {
	// First: a request that ran out of time answers 503 whatever its
	// handler made of the cancelled context (a 404 included).
	if dp, ok := dependencyProblem(err); ok {
		return dp
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if status, detail, ok := streamStatus(err); ok {
		np := NewProblem(status, detail)
		if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
			np = np.WithHeader("Retry-After", "5")
		}
		return np
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		np := NewProblem(he.Code, "")
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			np.Detail = msg
		}
		if he.Code >= 500 {
			np.Detail = ""
		}
		return np
	}
	var ve *validation.Error
	var capErr *payment.CapError
	switch {
	case errors.As(err, &ve):
		fe := make([]FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fe[i] = FieldError{Field: f.Field, Message: f.Message}
		}
		return Validation(fe...)
	case errors.As(err, &capErr):
		secs := max(int((capErr.RetryAfter+time.Second-1)/time.Second), 1)
		return NewProblem(http.StatusTooManyRequests, fmt.Sprintf(
			"Request was throttled: too many payment prompts for this phone. Expected available in %d seconds.", secs)).
			WithHeader("Retry-After", strconv.Itoa(secs))
	case errors.Is(err, payment.ErrKeyReused), errors.Is(err, payout.ErrKeyReused):
		return errKeyReused()
	case errors.Is(err, store.ErrNotFound):
		return NewProblem(http.StatusNotFound, "no such resource")
	case errors.Is(err, store.ErrConflict):
		return NewProblem(http.StatusConflict, "the resource already exists or conflicts with another")
	}
	return NewProblem(http.StatusInternalServerError, "")
}
