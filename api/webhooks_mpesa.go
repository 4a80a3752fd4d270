package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/payment"
)

// stkAccepted is Daraja's expected acknowledgement, encoded once (the bytes
// c.JSON would write for {"ResultCode":0,"ResultDesc":"Accepted"}).
var stkAccepted = []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}` + "\n")

// stkWebhook holds what the STK callback endpoint needs.
type stkWebhook struct {
	token  []byte
	intake *payment.Intake
	// trusted: a source allowlist is configured (FUNDIGO_MPESA_ALLOWED_CIDRS)
	// and webhookGuard let this request through, so its sender is a known
	// Daraja address; recorded on the inbox row.
	trusted bool
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
		body, ct, err := readWebhookBody(c)
		if err != nil {
			return err
		}
		res, err := w.intake.Accept(req.Context(), payment.Delivery{Body: body, ContentType: ct, Origin: "webhook", Trusted: w.trusted})
		var rejected *payment.RejectedError
		switch {
		case errors.As(err, &rejected):
			if rejected.QuarantineErr != nil {
				log.Error().Err(rejected.QuarantineErr).Msg("quarantine of an invalid stk callback failed")
			} else {
				log.Warn().Int("bytes", len(body)).Err(rejected.Err).Msg("invalid stk callback quarantined")
			}
			return NewProblem(http.StatusBadRequest, rejected.Detail())
		case err != nil:
			log.Error().Err(err).Msg("stk callback not stored; answered 503")
			p := NewProblem(http.StatusServiceUnavailable, "the callback could not be stored").WithHeader("Retry-After", "1")
			p.Dependency = depPostgres // the inbox
			return p
		}
		log.Info().Str(logging.FieldCheckoutRequestID, logging.TruncateID(res.CheckoutRequestID)).Int64("inbox_id", res.InboxID).
			Bool("duplicate", res.Duplicate).Str(logging.FieldResultCode, res.ResultCode).Msg("stk callback stored")
		return c.JSONBlob(http.StatusOK, stkAccepted)
	}
}

// newSTKWebhook builds the STK callback endpoint's dependencies from d.
func newSTKWebhook(d Deps) (stkWebhook, error) {
	pc := d.Config.Payments
	w, err := inbox.NewWriter(d.Pool, inbox.WriterConfig{Window: pc.InboxWindow})
	if err != nil {
		return stkWebhook{}, fmt.Errorf("api: stk inbox: %w", err)
	}
	return stkWebhook{token: []byte(pc.CallbackToken.Reveal()), trusted: len(pc.AllowedCIDRs) > 0,
		intake: &payment.Intake{Pool: d.Pool, Writer: w, QuarantineCap: pc.QuarantineCap}}, nil
}

// paymentDeps are the payment commands' dependencies of the API role.
func paymentDeps(d Deps) payment.Deps {
	return payment.Deps{Log: d.Log, Pool: d.Pool, Tasks: d.Tasks, Queues: d.Queues,
		Config: d.Config.Payments, Now: d.Now,
		Caps: payment.Caps{MaxOpen: d.Config.Throttle.STKMaxOpenPerPhone, MaxPerHour: d.Config.Throttle.STKMaxPerPhoneHour}}
}
