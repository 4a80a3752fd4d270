package main

import (
	"context"

	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/expo/exposim"
)

// simulators are the external-API simulators `all` runs in-process when the
// configuration names no real base URL. They rewrite cfg (base URLs,
// credentials) before the roles are built; the roles reach them over HTTP
// like the real APIs. A field is nil when its simulator did not start.
type simulators struct {
	// push is the Expo simulator (bench reads its counters).
	push    *exposim.Sim
	closers []func()
}

func (s *simulators) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// startSimulators is the one list of in-process simulators (one block each).
func startSimulators(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*simulators, error) {
	s := &simulators{}
	// mpesa
	_, stopMpesaSim, err := startInProcessMpesaSim(&cfg.Payments, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stopMpesaSim)

	// push
	pushSim, stopPushSim, err := startInProcessPushSim(&cfg.Notifications, log)
	if err != nil {
		s.close()
		return nil, err
	}
	s.closers = append(s.closers, stopPushSim)
	s.push = pushSim

	return s, nil
}
