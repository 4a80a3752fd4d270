package main

import (
	"net/http"

	"github.com/redis/go-redis/v9"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/payment"
	"fundigo/workers"
	"fundigo/workers/payments"
)

// registerPayments wires the payments worker: the Daraja client (against the
// in-process simulator when FUNDIGO_MPESA_BASE_URL is empty and `all` did not
// start one), the STK push and reconcile tasks and the callback consumer.
func registerPayments(w *workers.Server, in *infra) error {
	pc := in.cfg.Payments
	client, err := darajaClient(in.cfg, in.redis, &http.Client{Transport: in.clientTransport(nil)})
	if err != nil {
		return err
	}
	deps := payments.Deps{
		Deps: payment.Deps{
			Log: in.log.With().Str("component", "payments").Logger(), Pool: in.pool, STK: client,
			Tasks: in.tasks, Inspector: in.insp, Queues: in.queues, Config: pc,
		},
		QueuePrefix: in.cfg.AMQP.QueuePrefix, DeliveryLimit: in.cfg.AMQP.DeliveryLimit,
	}
	if err := payments.Register(w.Mux(), deps); err != nil {
		return err
	}
	applier, err := payments.Applier(deps)
	if err != nil {
		return err
	}
	w.AddRunner(applier.Run)
	// Notices of callbacks stored before the applier claimed the inbox
	// directly are still consumed (idempotent); new rows have none.
	specs, err := payments.Consumers(deps)
	if err != nil {
		return err
	}
	w.AddConsumer(specs...)
	return nil
}

// darajaClient is the one Daraja client configuration (STK, B2C,
// Transaction Status, Register URL), with its OAuth token cached in rdb.
func darajaClient(cfg config.Config, rdb redis.UniversalClient, hc *http.Client) (*mpesa.Client, error) {
	pc := cfg.Payments
	return mpesa.NewClient(rdb, mpesa.ClientConfig{
		BaseURL: pc.MpesaBaseURL, ConsumerKey: pc.ConsumerKey.Reveal(), ConsumerSecret: pc.ConsumerSecret.Reveal(),
		ShortCode: pc.ShortCode, Passkey: pc.Passkey.Reveal(), TransactionType: pc.TransactionType, PartyB: pc.PartyB,
		CallbackURL: pc.EffectiveCallbackURL(cfg.HTTP.PublicURL), Timeout: pc.Timeout,
		TokenKey:   cfg.Redis.KeyPrefix + "mpesa:oauth",
		HTTPClient: hc,
	})
}
