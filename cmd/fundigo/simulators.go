package main

import (
	"context"

	"github.com/rs/zerolog"

	"fundigo/pkg/config"
)

// simulators are the external-API simulators `all` runs in-process when the
// configuration names no real base URL. They may rewrite cfg (base URLs,
// credentials) before the roles are built, and hand in-process dependencies
// to the roles through extra.
type simulators struct {
	extra   map[string]any
	closers []func()
}

func (s *simulators) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// startSimulators is the one list of in-process simulators (one block each).
func startSimulators(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*simulators, error) {
	s := &simulators{extra: map[string]any{}}
	// mpesa
	mpesaSim, stopMpesaSim, err := startInProcessMpesaSim(&cfg.Payments, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stopMpesaSim)
	if mpesaSim != nil {
		s.extra["mpesa.sim"] = mpesaSim
	}

	// push
	pushSim, stopPushSim, err := startInProcessPushSim(&cfg.Notifications, log)
	if err != nil {
		s.close()
		return nil, err
	}
	s.closers = append(s.closers, stopPushSim)
	if pushSim != nil {
		s.extra["push.sim"] = pushSim
	}

	return s, nil
}
