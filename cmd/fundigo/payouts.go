package main

import (
	"fmt"
	"net/http"
	"os"

	"fundigo/pkg/mpesa"
	"fundigo/pkg/payout"
	"fundigo/workers"
	"fundigo/workers/payouts"
)

// registerPayouts wires the payouts worker: the Daraja client, the B2C
// initiator (its SecurityCredential encrypted once, here, with the
// configured certificate), the submit and reconcile tasks and the answers
// consumer.
func registerPayouts(w *workers.Server, in *infra) error {
	pc, oc := in.cfg.Payments, in.cfg.Payouts
	client, err := darajaClient(in.cfg, in.redis, &http.Client{Transport: in.clientTransport(nil)})
	if err != nil {
		return err
	}
	initiator, err := b2cInitiator(in)
	if err != nil {
		return err
	}
	deps := payouts.Deps{
		Deps: payout.Deps{
			Log: in.log.With().Str("component", "payouts").Logger(), Pool: in.pool, Daraja: client,
			Initiator: initiator, URLs: payout.URLsFor(pc, in.cfg.HTTP.PublicURL),
			Tasks: in.tasks, Queues: in.queues, Config: oc,
		},
		QueuePrefix: in.cfg.AMQP.QueuePrefix, DeliveryLimit: in.cfg.AMQP.DeliveryLimit,
	}
	if err := payouts.Register(w.Mux(), deps); err != nil {
		return err
	}
	specs, err := payouts.Consumers(deps)
	if err != nil {
		return err
	}
	w.AddConsumer(specs...)
	return nil
}

// b2cInitiator reads the certificate and encrypts the initiator password.
// Without an initiator the worker still runs: B2C requests then fail as
// not sent (and are retried) until one is configured.
func b2cInitiator(in *infra) (mpesa.Initiator, error) {
	oc := in.cfg.Payouts
	if !oc.InitiatorConfigured() {
		in.log.Warn().Msg("no B2C initiator configured (FUNDIGO_MPESA_INITIATOR_NAME/_PASSWORD/_CERT_FILE): payouts are accepted but not sent")
		return mpesa.Initiator{PartyA: oc.ShortCode}, nil
	}
	cert, err := os.ReadFile(oc.CertFile)
	if err != nil {
		return mpesa.Initiator{}, fmt.Errorf("FUNDIGO_MPESA_CERT_FILE: %w", err)
	}
	cred, err := mpesa.SecurityCredential(cert, oc.InitiatorPassword.Reveal())
	if err != nil {
		return mpesa.Initiator{}, fmt.Errorf("FUNDIGO_MPESA_CERT_FILE: %w", err)
	}
	return mpesa.Initiator{Name: oc.InitiatorName, SecurityCredential: cred, PartyA: oc.ShortCode}, nil
}
