package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Ops configures how a process is operated: whether the built-in Daraja and
// Expo/FCM simulators may run, and the admin listener (metrics, probes,
// pprof) every role serves apart from the public API.
type Ops struct {
	// Simulators: "true" lets worker/all run the in-process Daraja and push
	// simulators for whatever external API is not configured; "false" never
	// does. Empty means the command's default (true for `all`, false for the
	// production roles).
	Simulators string `env:"FUNDIGO_SIMULATORS"`
	// AdminAddr is the admin listener of every role: /metrics, /healthz,
	// /readyz, /debug/pprof. Keep it off the public network.
	AdminAddr string `env:"FUNDIGO_ADMIN_ADDR" envDefault:"127.0.0.1:9090"`
}

// SimulatorsOr reports whether simulators may run, def when unset.
func (c Ops) SimulatorsOr(def bool) bool {
	if c.Simulators == "" {
		return def
	}
	v, _ := strconv.ParseBool(c.Simulators) // validated
	return v
}

func (c Ops) validate() []error {
	var errs []error
	if c.Simulators != "" {
		if _, err := strconv.ParseBool(c.Simulators); err != nil {
			errs = append(errs, fmt.Errorf("FUNDIGO_SIMULATORS %q: want true or false", c.Simulators))
		}
	}
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		errs = append(errs, fmt.Errorf("FUNDIGO_ADMIN_ADDR %q: %w", c.AdminAddr, err))
	}
	return errs
}

// MissingExternalAPIs lists the variables a role that calls Daraja and
// Expo (the worker) needs when no simulator may stand in for them. Variables
// that must accompany a set base URL are checked by Validate already.
func (c Config) MissingExternalAPIs() []string {
	var missing []string
	if c.Payments.MpesaBaseURL == "" {
		missing = append(missing, "FUNDIGO_MPESA_BASE_URL", "FUNDIGO_MPESA_CONSUMER_KEY",
			"FUNDIGO_MPESA_CONSUMER_SECRET", "FUNDIGO_MPESA_PASSKEY", "FUNDIGO_MPESA_CALLBACK_TOKEN")
	}
	if c.Notifications.ExpoBaseURL == "" {
		missing = append(missing, "FUNDIGO_EXPO_BASE_URL")
	}
	return missing
}

// ErrNoExternalAPIs is returned (wrapped) by RequireExternalAPIs.
var ErrNoExternalAPIs = errors.New("no Daraja/Expo configuration and FUNDIGO_SIMULATORS is not true")

// RequireExternalAPIs fails naming every missing variable when the worker
// would otherwise have to talk to a simulator.
func (c Config) RequireExternalAPIs() error {
	missing := c.MissingExternalAPIs()
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: set %s (or FUNDIGO_SIMULATORS=true for development)", ErrNoExternalAPIs, strings.Join(missing, ", "))
}
