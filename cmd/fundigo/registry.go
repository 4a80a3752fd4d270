package main

import (
	"slices"

	"fundigo/pkg/config"
	"fundigo/workers"
	"fundigo/workers/maintenance"
	"fundigo/workers/notifications"
	"fundigo/workers/payments"
	"fundigo/workers/payouts"
	"fundigo/workers/ratings"
)

// handledTaskTypes reports which task types the worker of this binary
// handles, for the scheduler's listings: each domain's TaskTypes, the same
// domains registerDomains registers (the Celery park task is left out: no
// schedule targets it). Nothing is built or connected, so `fundigo
// scheduler list` needs neither simulators nor credentials;
// TestHandledTaskTypesMatchTheWorker keeps it in step with the real mux.
func handledTaskTypes() func(taskType string) bool {
	types := slices.Concat(payments.TaskTypes(), payouts.TaskTypes(), notifications.TaskTypes(), ratings.TaskTypes(),
		maintenance.TaskTypes())
	return func(taskType string) bool { return slices.Contains(types, taskType) }
}

// registryWorkers is the worker graph built in memory and never run, for
// `fundigo worker --bindings` and `fundigo dlq` (which need the consumer
// specs): every domain's handlers and consumers over a copy of the
// configuration whose external APIs are placeholders (never called),
// without simulators; connections are lazy and nothing is declared.
func registryWorkers(in *infra) (*workers.Server, error) {
	reg := *in
	reg.cfg = registryConfig(in.cfg)
	return buildWorkers(&reg)
}

// registryConfig fills what the Daraja and Expo clients require to be built
// with values that are never used, and leaves out the Celery consumer (its
// own broker connection).
func registryConfig(cfg config.Config) config.Config {
	const unused = "unused-registry-only"
	pc := &cfg.Payments
	if pc.MpesaBaseURL == "" {
		pc.MpesaBaseURL = "http://daraja.invalid"
		pc.ConsumerKey, pc.ConsumerSecret, pc.Passkey = unused, unused, unused
	}
	if cfg.Notifications.ExpoBaseURL == "" {
		cfg.Notifications.ExpoBaseURL = "http://expo.invalid"
	}
	cfg.Celery.Enabled = false
	return cfg
}
