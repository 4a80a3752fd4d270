package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa/mpesasim"
)

// newMpesaSimCmd is `fundigo mpesa-sim`: the Daraja simulator as a server.
// Point FUNDIGO_MPESA_BASE_URL at it and use the credentials it prints.
func newMpesaSimCmd(e env) *cobra.Command {
	var (
		addr    string
		certOut string
		faults  mpesasim.Faults
		delay   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mpesa-sim",
		Short: "Serve a Daraja simulator (OAuth, STK Push, STK Push Query, callbacks by phone number)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := e.load()
			if err != nil {
				return err
			}
			sim := mpesasim.New(simConfig(cfg.Payments, cfg.Payouts, delay, log))
			sim.SetFaults(faults)
			defer sim.Close()
			if certOut != "" {
				if err := os.WriteFile(certOut, sim.CertificatePEM(), 0o600); err != nil {
					return fmt.Errorf("write the simulator certificate: %w", err)
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			sc := sim.Config()
			fmt.Fprintf(e.stdout, "Daraja simulator on http://%s\n  FUNDIGO_MPESA_BASE_URL=http://%s\n  FUNDIGO_MPESA_SHORTCODE=%s\n"+
				"  (consumer key, secret and passkey: FUNDIGO_MPESA_CONSUMER_KEY/_SECRET/_PASSKEY, or the simulator defaults)\n",
				ln.Addr(), ln.Addr(), sc.ShortCode)
			return serveUntilDone(cmd.Context(), ln, sim)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	f.StringVar(&certOut, "cert-out", "", "write the certificate that encrypts the B2C SecurityCredential here (point FUNDIGO_MPESA_CERT_FILE at it)")
	f.DurationVar(&delay, "callback-delay", 0, "how long the simulated customer takes to answer (default FUNDIGO_MPESA_SIM_CALLBACK_DELAY)")
	f.IntVar(&faults.DuplicateCallbacks, "duplicate-callbacks", 0, "send each callback this many extra times")
	f.IntVar(&faults.Fail5xx, "fail-5xx", 0, "answer the next N pushes/queries with 500.003.02 System is busy")
	f.IntVar(&faults.Hang, "hang", 0, "hold the answer of the next N pushes (they are processed) for --hang-for")
	f.DurationVar(&faults.HangFor, "hang-for", 30*time.Second, "how long --hang holds an answer")
	f.DurationVar(&faults.TokenLifetime, "token-lifetime", 0, "tokens stop working this long after issue (early expiry)")
	return cmd
}

// simConfig builds the simulator's configuration from the payments config,
// so credentials set in the environment are the ones it accepts.
func simConfig(pc config.Payments, oc config.Payouts, delay time.Duration, log zerolog.Logger) mpesasim.Config {
	if delay == 0 {
		delay = pc.SimCallbackDelay
	}
	return mpesasim.Config{
		ConsumerKey: pc.ConsumerKey.Reveal(), ConsumerSecret: pc.ConsumerSecret.Reveal(),
		ShortCode: pc.ShortCode, Passkey: pc.Passkey.Reveal(), CallbackDelay: delay, Log: log,
		InitiatorName: oc.InitiatorName, InitiatorPassword: oc.InitiatorPassword.Reveal(),
	}
}

// startInProcessMpesaSim runs the simulator on a loopback port when the
// configuration names no Daraja, and rewrites pc and oc to use it (base URL,
// credentials, a random callback token if none is set, and the B2C
// initiator with the simulator's certificate written to a temporary
// FUNDIGO_MPESA_CERT_FILE). stop shuts it down.
func startInProcessMpesaSim(pc *config.Payments, oc *config.Payouts, log zerolog.Logger) (sim *mpesasim.Sim, stop func(), err error) {
	if !pc.UsesSimulator() {
		return nil, func() {}, nil
	}
	if pc.CallbackToken == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		pc.CallbackToken = config.Secret(hex.EncodeToString(b))
	}
	sim = mpesasim.New(simConfig(*pc, *oc, 0, log))
	certFile, err := os.CreateTemp("", "fundigo-mpesasim-*.pem")
	if err == nil {
		_, err = certFile.Write(sim.CertificatePEM())
		if cerr := certFile.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		sim.Close()
		return nil, nil, fmt.Errorf("write the mpesa simulator certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sim.Close()
		_ = os.Remove(certFile.Name())
		return nil, nil, fmt.Errorf("listen for the mpesa simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	sc := sim.Config()
	pc.MpesaBaseURL = "http://" + ln.Addr().String()
	pc.ConsumerKey, pc.ConsumerSecret = config.Secret(sc.ConsumerKey), config.Secret(sc.ConsumerSecret)
	pc.Passkey, pc.ShortCode = config.Secret(sc.Passkey), sc.ShortCode
	oc.InitiatorName, oc.InitiatorPassword, oc.CertFile = sc.InitiatorName, config.Secret(sc.InitiatorPassword), certFile.Name()
	log.Info().Str("base_url", pc.MpesaBaseURL).Msg("mpesa simulator running in-process")
	return sim, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		sim.Close()
		_ = os.Remove(certFile.Name())
	}, nil
}

// serveUntilDone serves h on ln until ctx is cancelled, then shuts down.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
