package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Payouts configures B2C payouts to technicians and their settlement by
// Transaction Status. The Daraja base URL, OAuth credentials, webhook token
// and allowlist are the payments ones (Payments).
type Payouts struct {
	// InitiatorName and InitiatorPassword sign B2C and Transaction Status
	// requests; the password is sent encrypted with CertFile's public key
	// (the SecurityCredential). With the simulator, `all` uses its own
	// initiator and certificate unless these are set.
	InitiatorName     string `env:"FUNDIGO_MPESA_INITIATOR_NAME"`
	InitiatorPassword Secret `env:"FUNDIGO_MPESA_INITIATOR_PASSWORD"`
	CertFile          string `env:"FUNDIGO_MPESA_CERT_FILE"`
	// ShortCode pays out (PartyA); defaults to FUNDIGO_MPESA_SHORTCODE.
	ShortCode string `env:"FUNDIGO_MPESA_B2C_SHORTCODE"`
	// MaxAmount is the largest payout in whole KES.
	MaxAmount int64 `env:"FUNDIGO_PAYOUTS_MAX_AMOUNT" envDefault:"250000"`
	// StatusAfter: a submitted payout without a result this long, or an
	// unknown one, is asked about with Transaction Status; again after
	// StatusEvery, doubling up to StatusMaxEvery.
	StatusAfter    time.Duration `env:"FUNDIGO_PAYOUTS_STATUS_AFTER" envDefault:"2m"`
	StatusEvery    time.Duration `env:"FUNDIGO_PAYOUTS_STATUS_EVERY" envDefault:"1m"`
	StatusMaxEvery time.Duration `env:"FUNDIGO_PAYOUTS_STATUS_MAX_EVERY" envDefault:"15m"`
	// FinalDeadline: a payout with no definitive answer this long after its
	// creation goes to needs_review (never re-sent).
	FinalDeadline time.Duration `env:"FUNDIGO_PAYOUTS_FINAL_DEADLINE" envDefault:"24h"`
	// LowBalance (whole KES): a B2C result reporting a utility account
	// balance below it emits payout.balance_low.
	LowBalance int64 `env:"FUNDIGO_PAYOUTS_LOW_BALANCE" envDefault:"10000"`
}

func (c Payouts) validate() []error {
	var errs []error
	if set := c.InitiatorConfigured(); (set || c.InitiatorName != "" || c.InitiatorPassword != "" || c.CertFile != "") && !set {
		errs = append(errs, errors.New("FUNDIGO_MPESA_INITIATOR_NAME, FUNDIGO_MPESA_INITIATOR_PASSWORD and "+
			"FUNDIGO_MPESA_CERT_FILE go together (B2C payouts and Transaction Status)"))
	}
	if strings.ContainsAny(c.InitiatorName, "\x00\n") {
		errs = append(errs, errors.New("FUNDIGO_MPESA_INITIATOR_NAME must be one line"))
	}
	if c.MaxAmount < 10 || c.MaxAmount > 250000 {
		errs = append(errs, errors.New("FUNDIGO_PAYOUTS_MAX_AMOUNT must be between 10 and 250000"))
	}
	for key, d := range map[string]time.Duration{
		"FUNDIGO_PAYOUTS_STATUS_AFTER": c.StatusAfter, "FUNDIGO_PAYOUTS_STATUS_EVERY": c.StatusEvery,
		"FUNDIGO_PAYOUTS_STATUS_MAX_EVERY": c.StatusMaxEvery, "FUNDIGO_PAYOUTS_FINAL_DEADLINE": c.FinalDeadline,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", key))
		}
	}
	if c.FinalDeadline <= c.StatusAfter {
		errs = append(errs, errors.New("FUNDIGO_PAYOUTS_FINAL_DEADLINE must be longer than FUNDIGO_PAYOUTS_STATUS_AFTER"))
	}
	if c.LowBalance < 0 {
		errs = append(errs, errors.New("FUNDIGO_PAYOUTS_LOW_BALANCE must not be negative"))
	}
	return errs
}

// InitiatorConfigured reports whether B2C payouts can be signed. Without an
// initiator (and a real Daraja) payouts are accepted but not sent.
func (c Payouts) InitiatorConfigured() bool {
	return c.InitiatorName != "" && c.InitiatorPassword != "" && c.CertFile != ""
}

// DarajaURL is the URL Daraja is told to call for a webhook kind
// ("b2c/result", "b2c/timeout", "status/result", "status/timeout",
// "c2b/validation", "c2b/confirmation"): every Daraja webhook shares the
// payments token and lives under /v1/webhooks/daraja (Daraja refuses URLs
// containing "mpesa").
func (c Payments) DarajaURL(publicURL, kind string) string {
	return strings.TrimRight(publicURL, "/") + "/v1/webhooks/daraja/" + kind + "/" + c.CallbackToken.Reveal()
}
