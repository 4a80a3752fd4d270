package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/payment"
	"fundigo/pkg/payout"
)

// Daraja's expected acknowledgements.
var (
	resultAccepted = []byte(`{"ResultCode":0,"ResultDesc":"Accepted"}` + "\n")
	c2bConfirmed   = []byte(`{"ResultCode":0,"ResultDesc":"Success"}` + "\n")
)

// darajaWebhook is one stored-then-acknowledged Daraja webhook (B2C result
// and timeout, Transaction Status result and timeout, C2B confirmation).
type darajaWebhook struct {
	token   []byte
	intake  *inbox.Intake
	ack     []byte
	trusted bool
	// ackQuarantined answers even an unparseable body with ack once it is
	// quarantined (C2B confirmation: the money has moved, it cannot be refused).
	ackQuarantined bool
}

// readWebhookBody applies the intake rules every Daraja webhook shares:
// 413 over 64 KiB (not read), 415 unless JSON. It returns the body and its
// content type.
func readWebhookBody(c echo.Context) ([]byte, string, error) {
	req := c.Request()
	if req.ContentLength > mpesa.MaxCallbackBytes {
		return nil, "", NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
	}
	ct := req.Header.Get(echo.HeaderContentType)
	if !isJSONMediaType(ct) {
		return nil, "", NewProblem(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, mpesa.MaxCallbackBytes))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, "", NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
	}
	if err != nil {
		return nil, "", NewProblem(http.StatusBadRequest, "the body could not be read")
	}
	return body, ct, nil
}

// handleDarajaWebhook is POST /v1/webhooks/daraja/{b2c,status}/{result,timeout}/{token}
// and /v1/webhooks/daraja/c2b/confirmation/{token}. Answers: 404 wrong token ·
// 403/429 (webhookGuard) · 413 over 64 KiB · 415 not JSON · 400 not the
// route's shape, or a row the database refuses (raw bytes quarantined) ·
// 200 with Daraja's ack once the raw body is committed to the inbox (also
// for an identical redelivery) · 503 if the commit failed. The worker
// applies it later; Daraja does not retry, so nothing is acknowledged
// before it is durable.
func handleDarajaWebhook(w darajaWebhook) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(w.token) == 0 || subtle.ConstantTimeCompare([]byte(c.Param("token")), w.token) != 1 {
			return NewProblem(http.StatusNotFound, "no such route")
		}
		body, ct, err := readWebhookBody(c)
		if err != nil {
			return err
		}
		log := zerologCtx(c)
		res, err := w.intake.Accept(c.Request().Context(), body, ct, w.trusted)
		var rejected *inbox.IntakeRejectedError
		switch {
		case errors.As(err, &rejected):
			if rejected.QuarantineErr != nil {
				log.Error().Err(rejected.QuarantineErr).Str("route", w.intake.Route).Msg("quarantine of an invalid daraja webhook failed")
			} else {
				log.Warn().Int("bytes", len(body)).Str("route", w.intake.Route).Err(rejected.Err).Msg("invalid daraja webhook quarantined")
			}
			if w.ackQuarantined && rejected.QuarantineErr == nil {
				return c.JSONBlob(http.StatusOK, w.ack)
			}
			return NewProblem(http.StatusBadRequest, rejected.Detail())
		case err != nil:
			log.Error().Err(err).Str("route", w.intake.Route).Msg("daraja webhook not stored; answered 503")
			p := NewProblem(http.StatusServiceUnavailable, "the delivery could not be stored").WithHeader("Retry-After", "1")
			p.Dependency = depPostgres
			return p
		}
		log.Info().Str("route", w.intake.Route).Int64("inbox_id", res.ID).Bool("duplicate", res.Duplicate).Msg("daraja webhook stored")
		return c.JSONBlob(http.StatusOK, w.ack)
	}
}

// newDarajaWebhooks builds the B2C and Transaction Status endpoints, by
// route path under /v1/webhooks/daraja/. They share one grouped-commit writer.
func newDarajaWebhooks(d Deps) (map[string]darajaWebhook, error) {
	pc := d.Config.Payments
	wr, err := inbox.NewWriter(d.Pool, inbox.WriterConfig{Window: pc.InboxWindow})
	if err != nil {
		return nil, fmt.Errorf("api: daraja inbox: %w", err)
	}
	mk := func(route, routingKey string, keyFunc func([]byte) (string, error), ack []byte) darajaWebhook {
		return darajaWebhook{token: []byte(pc.CallbackToken.Reveal()), trusted: len(pc.AllowedCIDRs) > 0, ack: ack,
			intake: &inbox.Intake{Pool: d.Pool, Writer: wr, QuarantineCap: pc.QuarantineCap, Route: route,
				RoutingKey: routingKey, KeyFunc: keyFunc}}
	}
	rk := events.RoutingKeyDarajaResultReceived
	confirmation := mk(mpesa.InboxRouteC2B, events.RoutingKeyC2BConfirmationReceived, payment.C2BKey, c2bConfirmed)
	confirmation.ackQuarantined = true
	return map[string]darajaWebhook{
		"b2c/result":       mk(mpesa.InboxRouteB2CResult, rk, payout.ResultKey, resultAccepted),
		"b2c/timeout":      mk(mpesa.InboxRouteB2CTimeout, rk, payout.ResultKey, resultAccepted),
		"status/result":    mk(mpesa.InboxRouteStatusResult, rk, payout.ResultKey, resultAccepted),
		"status/timeout":   mk(mpesa.InboxRouteStatusTimeout, rk, payout.ResultKey, resultAccepted),
		"c2b/confirmation": confirmation,
	}, nil
}
