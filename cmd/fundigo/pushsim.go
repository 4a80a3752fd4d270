package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"fundigo/pkg/config"
	"fundigo/pkg/expo/exposim"
)

// newPushSimCmd is `fundigo push-sim`: the Expo push and FCM v1 simulator as
// a server. Point FUNDIGO_EXPO_BASE_URL (and the FCM URLs) at it. Counters:
// GET /_sim/stats; fault injection: POST /_sim/fail (see package exposim).
func newPushSimCmd(e env) *cobra.Command {
	var (
		addr  string
		rate  int
		delay time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push-sim",
		Short: "Serve an Expo push (send, getReceipts) and FCM v1 simulator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := e.load()
			if err != nil {
				return err
			}
			if addr == "" {
				addr = cfg.Notifications.PushSimAddr
			}
			sim := exposim.New(exposim.Options{})
			sim.SetRateLimit(rate)
			sim.SetDelay(delay)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			fmt.Fprintf(e.stdout, "Push simulator on http://%s\n  FUNDIGO_EXPO_BASE_URL=http://%s\n"+
				"  FUNDIGO_FCM_BASE_URL=http://%s\n  FUNDIGO_FCM_TOKEN_URL=http://%s/token\n"+
				"  counters: GET /_sim/stats   faults: POST /_sim/fail {\"status\":429,\"count\":3,\"retry_after_seconds\":1}\n",
				ln.Addr(), ln.Addr(), ln.Addr(), ln.Addr())
			return serveUntilDone(cmd.Context(), ln, sim)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "", "listen address (default FUNDIGO_PUSHSIM_ADDR)")
	f.IntVar(&rate, "rate-limit", 0, "answer 429 above this many Expo notifications per second (Expo: 600); 0 = off")
	f.DurationVar(&delay, "delay", 0, "delay every answer by this long (slow provider)")
	return cmd
}

// startInProcessPushSim runs the push simulator on FUNDIGO_PUSHSIM_ADDR (or,
// when that is taken, a free loopback port) when no
// Expo base URL is configured and rewrites nc to use it: the Expo URL and,
// unless a real FCM service account is configured, an ephemeral development
// service account and FCM URLs on the simulator. stop shuts it down.
func startInProcessPushSim(nc *config.Notifications, log zerolog.Logger) (sim *exposim.Sim, stop func(), err error) {
	if nc.ExpoBaseURL != "" {
		return nil, func() {}, nil
	}
	sim = exposim.New(exposim.Options{})
	// FUNDIGO_PUSHSIM_ADDR, so a developer can read /_sim/messages at a
	// known address; a second instance on the machine gets a free port.
	ln, err := net.Listen("tcp", nc.PushSimAddr)
	if err != nil {
		log.Warn().Err(err).Str("addr", nc.PushSimAddr).Msg("push simulator address in use; using a free port")
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listen for the push simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	nc.ExpoBaseURL = base
	if nc.FCMServiceAccountJSON == "" && nc.FCMServiceAccountFile == "" {
		account, err := devServiceAccount(base + "/token")
		if err != nil {
			_ = srv.Close()
			return nil, nil, err
		}
		nc.FCMServiceAccountJSON = config.Secret(account)
		nc.FCMBaseURL, nc.FCMTokenURL = base, base+"/token"
	}
	log.Info().Str("base_url", base).Msg("push simulator running in-process")
	return sim, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// devServiceAccount makes a throwaway service-account key file (a fresh RSA
// key) for the simulator's OAuth endpoint; it is never valid at Google.
func devServiceAccount(tokenURL string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate development fcm key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encode development fcm key: %w", err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "fundigo-dev", "private_key_id": "dev",
		"client_email": "push-sim@fundigo-dev.iam.gserviceaccount.com", "token_uri": tokenURL,
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	})
	return string(b), err
}
