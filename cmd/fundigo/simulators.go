package main

import (
	"context"
	"fmt"
	"io"

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

// describe prints, for a developer, where the in-process simulators listen
// and the full STK webhook URL (with its token) to post callbacks to by hand.
func (s *simulators) describe(w io.Writer, cfg config.Config) {
	if len(s.extra) == 0 {
		return
	}
	fmt.Fprintln(w, "simulators (development mode):")
	if _, ok := s.extra["mpesa.sim"]; ok {
		fmt.Fprintf(w, "  Daraja simulator:  %s\n", cfg.Payments.MpesaBaseURL)
		fmt.Fprintf(w, "  STK webhook:       %s\n", cfg.Payments.EffectiveCallbackURL(cfg.HTTP.PublicURL))
		fmt.Fprintln(w, "                     (FUNDIGO_MPESA_CALLBACK_TOKEN=<16+ characters> keeps it stable)")
	}
	if _, ok := s.extra["push.sim"]; ok {
		fmt.Fprintf(w, "  push simulator:    %s   (rendered messages: GET %s/_sim/messages)\n",
			cfg.Notifications.ExpoBaseURL, cfg.Notifications.ExpoBaseURL)
	}
}
