package api

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
)

const stkRoute = mpesa.InboxRouteSTK

// stkAccepted is Daraja's expected acknowledgement.
var stkAccepted = map[string]any{"ResultCode": 0, "ResultDesc": "Accepted"}

// stkWebhook holds what the STK callback endpoint needs.
type stkWebhook struct {
	token         []byte
	inbox         *inbox.Writer
	pool          *pgxpool.Pool
	quarantineCap int
}

// handleSTKCallback is POST /v1/webhooks/mpesa/stk/{token}. Answers:
//
//	404 wrong token · 403 refused source (webhookGuard) · 429 throttled
//	source (webhookGuard) · 413 body over 64 KiB (not read) ·
//	415 not JSON · 400 unparseable, no CheckoutRequestID, a field out of
//	its bounds (mpesa.ParseCallback) or a row the database refuses
//	(inbox.ErrRejected); raw bytes quarantined, batch-mates unaffected · 200 {"ResultCode":0,"ResultDesc":"Accepted"} once the raw
//	body is committed to the inbox (also for an identical redelivery) ·
//	503 if the commit failed.
//
// Daraja does not retry, so nothing is answered 200 before it is durable.
func handleSTKCallback(w stkWebhook) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		log := zerologCtx(c)
		if len(w.token) == 0 || subtle.ConstantTimeCompare([]byte(c.Param("token")), w.token) != 1 {
			return NewProblem(http.StatusNotFound, "no such route")
		}
		if req.ContentLength > mpesa.MaxCallbackBytes {
			return NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
		}
		ct := req.Header.Get(echo.HeaderContentType)
		if !isJSONMediaType(ct) {
			return NewProblem(http.StatusUnsupportedMediaType, "the body must be application/json")
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, mpesa.MaxCallbackBytes))
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
		}
		if err != nil {
			return NewProblem(http.StatusBadRequest, "the body could not be read")
		}
		cb, err := mpesa.ParseCallback(body)
		if err != nil {
			w.quarantine(c, ct, body, err)
			return NewProblem(http.StatusBadRequest, "not a valid STK callback: "+strings.TrimPrefix(err.Error(), mpesa.ErrInvalidCallback.Error()+": "))
		}
		res, err := w.inbox.Write(req.Context(), inbox.Entry{
			Route: stkRoute, Key: cb.CheckoutRequestID, Body: body, RoutingKey: events.RoutingKeySTKCallbackReceived,
		})
		if errors.Is(err, inbox.ErrRejected) {
			w.quarantine(c, ct, body, err)
			return NewProblem(http.StatusBadRequest, "the callback has a value that cannot be stored")
		}
		if err != nil {
			log.Error().Err(err).Str(logging.FieldCheckoutRequestID, logging.TruncateID(cb.CheckoutRequestID)).Msg("stk callback not stored; answered 503")
			p := NewProblem(http.StatusServiceUnavailable, "the callback could not be stored").WithHeader("Retry-After", "1")
			p.Dependency = depPostgres // the inbox
			return p
		}
		log.Info().Str(logging.FieldCheckoutRequestID, logging.TruncateID(cb.CheckoutRequestID)).Int64("inbox_id", res.ID).
			Bool("duplicate", res.Duplicate).Str(logging.FieldResultCode, cb.ResultCode).Msg("stk callback stored")
		return c.JSON(http.StatusOK, stkAccepted)
	}
}

// quarantine keeps a refused body for an operator (reason: why it was
// refused, never its content). A failure to quarantine is logged: the 400
// stands either way.
func (w stkWebhook) quarantine(c echo.Context, contentType string, body []byte, why error) {
	log := zerologCtx(c)
	reason := "invalid stk callback: " + why.Error()
	if len(reason) > 200 {
		reason = reason[:200]
	}
	if err := inbox.Quarantine(c.Request().Context(), w.pool, w.quarantineCap, stkRoute, strings.ToValidUTF8(reason, "?"), contentType, body); err != nil {
		log.Error().Err(err).Msg("quarantine of an invalid stk callback failed")
		return
	}
	log.Warn().Int("bytes", len(body)).Str("reason", reason).Msg("invalid stk callback quarantined")
}

// newSTKWebhook builds the STK callback endpoint's dependencies from d. It
// panics on a configuration the config package should have refused.
func newSTKWebhook(d Deps) stkWebhook {
	pc := d.Config.Payments
	w, err := inbox.NewWriter(d.Pool, inbox.WriterConfig{Window: pc.InboxWindow, Exchange: d.Config.AMQP.Exchange})
	if err != nil {
		panic("api: stk inbox: " + err.Error())
	}
	return stkWebhook{token: []byte(pc.CallbackToken.Reveal()), inbox: w,
		pool: d.Pool, quarantineCap: pc.QuarantineCap}
}
