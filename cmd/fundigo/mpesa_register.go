package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"fundigo/pkg/redisconn"
)

// newMpesaCmd is `fundigo mpesa`: one-off Daraja operations.
func newMpesaCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "mpesa", Short: "One-off Daraja operations (C2B URL registration)"}
	var responseType string
	register := &cobra.Command{
		Use:   "register-c2b",
		Short: "Register this deployment's C2B validation and confirmation URLs for FUNDIGO_MPESA_SHORTCODE",
		Long: `Call Daraja's Register URL API for FUNDIGO_MPESA_SHORTCODE with
  ValidationURL   <FUNDIGO_PUBLIC_URL>/v1/webhooks/daraja/c2b/validation/<token>
  ConfirmationURL <FUNDIGO_PUBLIC_URL>/v1/webhooks/daraja/c2b/confirmation/<token>
(token: FUNDIGO_MPESA_CALLBACK_TOKEN). --response-type is what M-Pesa does when
validation does not answer in time: Completed (accept the payment) or Cancelled.
Needs a real FUNDIGO_MPESA_BASE_URL (or a running fundigo mpesa-sim).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := e.load()
			if err != nil {
				return err
			}
			pc := cfg.Payments
			if pc.MpesaBaseURL == "" {
				return errors.New("mpesa register-c2b: FUNDIGO_MPESA_BASE_URL is empty: point it at Daraja (or at `fundigo mpesa-sim`)")
			}
			if pc.CallbackToken.Reveal() == "" {
				return errors.New("mpesa register-c2b: FUNDIGO_MPESA_CALLBACK_TOKEN is empty: the registered URLs would carry no token")
			}
			rdb, _, err := redisconn.Open(cfg.Redis.URL.Reveal()) // the OAuth token cache
			if err != nil {
				return fmt.Errorf("FUNDIGO_REDIS_URL: %w", err)
			}
			defer rdb.Close() //nolint:errcheck // CLI exit
			client, err := darajaClient(cfg, rdb, &http.Client{})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			confirmation := pc.DarajaURL(cfg.HTTP.PublicURL, "c2b/confirmation")
			validation := pc.DarajaURL(cfg.HTTP.PublicURL, "c2b/validation")
			if err := client.RegisterC2BURLs(ctx, responseType, confirmation, validation); err != nil {
				return err
			}
			// The URLs are printed without their secret token.
			hide := func(u string) string { return u[:len(u)-len(pc.CallbackToken.Reveal())] + "<token>" }
			fmt.Fprintf(e.stdout, "registered C2B URLs for shortcode %s (response type %s):\n  validation   %s\n  confirmation %s\n",
				pc.ShortCode, responseType, hide(validation), hide(confirmation))
			return nil
		},
	}
	register.Flags().StringVar(&responseType, "response-type", "Completed", "Completed or Cancelled: M-Pesa's action when validation does not answer in time")
	cmd.AddCommand(register)
	return cmd
}
