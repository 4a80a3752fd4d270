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
	// mpesa: the Daraja simulator runs in-process.
	mpesa bool
	// tokenMadeUp: the STK callback token was generated for this run (none
	// was configured), so it is a throwaway that may be printed.
	tokenMadeUp bool
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
	hadToken := cfg.Payments.CallbackToken != ""
	mpesaSim, stopMpesaSim, err := startInProcessMpesaSim(&cfg.Payments, &cfg.Payouts, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stopMpesaSim)
	if mpesaSim != nil {
		s.mpesa = true
		s.tokenMadeUp = !hadToken
	}

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
// and the STK webhook URL to post callbacks to by hand: in full when its
// token was made up for this run, else naming the variable that holds it.
func (s *simulators) describe(w io.Writer, cfg config.Config) {
	if !s.mpesa && s.push == nil {
		return
	}
	fmt.Fprintln(w, "simulators (development mode):")
	if s.mpesa {
		fmt.Fprintf(w, "  Daraja simulator:  %s\n", cfg.Payments.MpesaBaseURL)
		if s.tokenMadeUp {
			// A token made up for this run: print it, like the dev key.
			fmt.Fprintf(w, "  STK webhook:       %s\n", cfg.Payments.EffectiveCallbackURL(cfg.HTTP.PublicURL))
			fmt.Fprintln(w, "                     (FUNDIGO_MPESA_CALLBACK_TOKEN=<16+ characters> keeps it stable)")
		} else {
			// A configured token is a secret: it is never printed.
			fmt.Fprintf(w, "  STK webhook:       %s/v1/webhooks/daraja/stk/$FUNDIGO_MPESA_CALLBACK_TOKEN\n", cfg.HTTP.PublicURL)
		}
	}
	if s.push != nil {
		fmt.Fprintf(w, "  push simulator:    %s   (rendered messages: GET %s/_sim/messages)\n",
			cfg.Notifications.ExpoBaseURL, cfg.Notifications.ExpoBaseURL)
	}
}
