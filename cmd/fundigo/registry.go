package main

import (
	"fundigo/pkg/config"
	"fundigo/workers"
)

// handlerRegistry reports which task types the worker of this binary
// handles, for the scheduler's listings, without simulators, credentials or
// connections: it registers every domain's handlers in memory over a copy of
// the configuration whose external APIs are placeholders (never called) and
// without the Celery consumer (no schedule targets it), and keeps only the
// answer.
func handlerRegistry(in *infra) (func(string) bool, error) {
	w, err := registryWorkers(in)
	if err != nil {
		return nil, err
	}
	return w.HasHandler, nil
}

// registryWorkers is the worker registry built in memory as described
// above; it is never run.
func registryWorkers(in *infra) (*workers.Server, error) {
	reg := *in
	reg.cfg = registryConfig(in.cfg)
	return buildWorkers(&reg, nil)
}

// registryConfig fills what the Daraja and Expo clients require to be built
// with values that are never used.
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
