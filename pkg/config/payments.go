package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Payments configures M-Pesa (Daraja) STK payments: credentials, the webhook,
// the amount limit and the reconciliation windows.
type Payments struct {
	// MpesaBaseURL is Daraja's base URL. Empty means "use the simulator":
	// `fundigo all` then runs it in-process and uses its credentials.
	MpesaBaseURL   string `env:"FUNDIGO_MPESA_BASE_URL"`
	ConsumerKey    Secret `env:"FUNDIGO_MPESA_CONSUMER_KEY"`
	ConsumerSecret Secret `env:"FUNDIGO_MPESA_CONSUMER_SECRET"`
	ShortCode      string `env:"FUNDIGO_MPESA_SHORTCODE" envDefault:"174379"`
	Passkey        Secret `env:"FUNDIGO_MPESA_PASSKEY"`
	// TransactionType is CustomerPayBillOnline (paybill) or CustomerBuyGoodsOnline (till).
	TransactionType string `env:"FUNDIGO_MPESA_TRANSACTION_TYPE" envDefault:"CustomerPayBillOnline"`
	// PartyB receives the money; defaults to ShortCode.
	PartyB string `env:"FUNDIGO_MPESA_PARTY_B"`
	// Timeout bounds each Daraja call.
	Timeout time.Duration `env:"FUNDIGO_MPESA_TIMEOUT" envDefault:"15s"`

	// CallbackToken is the secret path segment of the STK webhook
	// (/v1/webhooks/mpesa/stk/{token}); Daraja callbacks carry no signature.
	CallbackToken Secret `env:"FUNDIGO_MPESA_CALLBACK_TOKEN"`
	// CallbackURL overrides the URL given to Daraja; default
	// HTTP.PublicURL + /v1/webhooks/mpesa/stk/{token}.
	CallbackURL Secret `env:"FUNDIGO_MPESA_CALLBACK_URL"`
	// AllowedCIDRs restricts webhook sources (empty = anyone with the
	// token) and says whom to believe: a success callback from a listed
	// source (resolved behind HTTP.TrustedProxies) is applied at once; from
	// any other source — every source when the list is empty — it waits,
	// unapplied, until Daraja's STK Push Query confirms its
	// CheckoutRequestID (payment.Confirm, asked at once). No configuration
	// turns that check off.
	AllowedCIDRs []string `env:"FUNDIGO_MPESA_ALLOWED_CIDRS"`
	// VerifyAll is the explicit acknowledgement that a real Daraja URL runs
	// with an empty AllowedCIDRs, i.e. that every success callback costs one
	// STK Push Query (paced by FUNDIGO_DARAJA_QUERY_RATE) and is paid about
	// a second later. Without it that configuration is a startup error, so a
	// forgotten allowlist is noticed. It changes no runtime behaviour: the
	// simulator and development setups verify every untrusted success too.
	VerifyAll bool `env:"FUNDIGO_MPESA_VERIFY_ALL"`
	// QuarantineCap is how many unparseable webhook bodies are kept.
	QuarantineCap int `env:"FUNDIGO_INBOX_QUARANTINE_CAP" envDefault:"1000"`
	// InboxWindow is the group-commit window of the webhook inbox.
	InboxWindow time.Duration `env:"FUNDIGO_INBOX_WINDOW" envDefault:"2ms"`

	// MaxAmount is the largest payment in whole KES (Daraja's limit is 250,000).
	MaxAmount int64 `env:"FUNDIGO_PAYMENTS_MAX_AMOUNT" envDefault:"250000"`
	// QueryAfter: a payment awaiting its callback this long is asked about
	// with STK Push Query, then again every QueryEvery.
	QueryAfter time.Duration `env:"FUNDIGO_PAYMENTS_QUERY_AFTER" envDefault:"3m"`
	QueryEvery time.Duration `env:"FUNDIGO_PAYMENTS_QUERY_EVERY" envDefault:"1m"`
	// FinalDeadline: a payment with no outcome this long after its push
	// becomes failed/expired.
	FinalDeadline time.Duration `env:"FUNDIGO_PAYMENTS_FINAL_DEADLINE" envDefault:"15m"`
	// RedriveAfter: a pending payment this old has lost its STK task and is
	// driven again.
	RedriveAfter time.Duration `env:"FUNDIGO_PAYMENTS_REDRIVE_AFTER" envDefault:"2m"`
	// OrphanReportAfter: a callback matching no payment this long is reported.
	OrphanReportAfter time.Duration `env:"FUNDIGO_PAYMENTS_ORPHAN_REPORT_AFTER" envDefault:"30m"`
	// Reconcile tunes the reconciliation runs (reconcile.go).
	Reconcile Reconcile

	// ApplyBatch is how many stored STK callbacks the applier applies in
	// one transaction; ApplyWorkers how many batches run at once per process.
	ApplyBatch   int `env:"FUNDIGO_PAYMENTS_APPLY_BATCH" envDefault:"500"`
	ApplyWorkers int `env:"FUNDIGO_PAYMENTS_APPLY_WORKERS" envDefault:"2"`
	// ApplyMaxAttempts: a stored callback failing this many times is stuck
	// (listed by `fundigo payments stuck list`).
	ApplyMaxAttempts int `env:"FUNDIGO_PAYMENTS_APPLY_MAX_ATTEMPTS" envDefault:"10"`
	// PushWindow is how long a push task's write ("push started", then
	// "accepted") waits for the other push tasks running in the process to
	// share one statement and commit; PushBatch closes a group early. 0
	// writes each push alone.
	PushWindow time.Duration `env:"FUNDIGO_PAYMENTS_PUSH_WINDOW" envDefault:"2ms"`
	PushBatch  int           `env:"FUNDIGO_PAYMENTS_PUSH_BATCH" envDefault:"64"`

	// SimCallbackDelay is the in-process simulator's customer answer time.
	SimCallbackDelay time.Duration `env:"FUNDIGO_MPESA_SIM_CALLBACK_DELAY" envDefault:"1s"`
}

// UsesSimulator reports whether Daraja is the built-in simulator.
func (c Payments) UsesSimulator() bool { return c.MpesaBaseURL == "" }

// EffectiveCallbackURL is the URL Daraja is told to call back. It uses the
// /v1/webhooks/daraja/stk alias: Daraja rejects callback URLs that contain
// "mpesa" in any case, so the documented /v1/webhooks/mpesa/stk path cannot be
// registered with Safaricom as is (both paths are served).
func (c Payments) EffectiveCallbackURL(publicURL string) string {
	if c.CallbackURL != "" {
		return c.CallbackURL.Reveal()
	}
	return strings.TrimRight(publicURL, "/") + "/v1/webhooks/daraja/stk/" + c.CallbackToken.Reveal()
}

func (c Payments) validate() []error {
	var errs []error
	if c.MpesaBaseURL != "" {
		if u, err := url.Parse(c.MpesaBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("FUNDIGO_MPESA_BASE_URL %q: want an absolute http(s) URL", c.MpesaBaseURL))
		}
		if len(c.AllowedCIDRs) == 0 && !c.VerifyAll {
			errs = append(errs, errors.New("FUNDIGO_MPESA_ALLOWED_CIDRS is empty with a real FUNDIGO_MPESA_BASE_URL: "+
				"list Safaricom's callback source addresses, or set FUNDIGO_MPESA_VERIFY_ALL=true to confirm every success with STK Push Query"))
		}
		for key, v := range map[string]Secret{
			"FUNDIGO_MPESA_CONSUMER_KEY": c.ConsumerKey, "FUNDIGO_MPESA_CONSUMER_SECRET": c.ConsumerSecret,
			"FUNDIGO_MPESA_PASSKEY": c.Passkey,
		} {
			if v == "" {
				errs = append(errs, fmt.Errorf("%s is required with FUNDIGO_MPESA_BASE_URL", key))
			}
		}
		if len(c.CallbackToken) < 16 {
			errs = append(errs, errors.New("FUNDIGO_MPESA_CALLBACK_TOKEN must be at least 16 characters with FUNDIGO_MPESA_BASE_URL"))
		}
	}
	if strings.ContainsAny(c.CallbackToken.Reveal(), "/?#% ") {
		errs = append(errs, errors.New("FUNDIGO_MPESA_CALLBACK_TOKEN must be one plain path segment"))
	}
	switch c.TransactionType {
	case "CustomerPayBillOnline", "CustomerBuyGoodsOnline":
	default:
		errs = append(errs, fmt.Errorf("FUNDIGO_MPESA_TRANSACTION_TYPE %q: want CustomerPayBillOnline or CustomerBuyGoodsOnline", c.TransactionType))
	}
	for _, s := range c.AllowedCIDRs {
		if _, err := ParseCIDROrIP(s); err != nil {
			errs = append(errs, fmt.Errorf("FUNDIGO_MPESA_ALLOWED_CIDRS: %w", err))
		}
	}
	if c.MaxAmount < 1 || c.MaxAmount > 250000 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_MAX_AMOUNT must be between 1 and 250000"))
	}
	for key, d := range map[string]time.Duration{
		"FUNDIGO_MPESA_TIMEOUT": c.Timeout, "FUNDIGO_PAYMENTS_QUERY_AFTER": c.QueryAfter,
		"FUNDIGO_PAYMENTS_QUERY_EVERY": c.QueryEvery, "FUNDIGO_PAYMENTS_FINAL_DEADLINE": c.FinalDeadline,
		"FUNDIGO_PAYMENTS_REDRIVE_AFTER": c.RedriveAfter, "FUNDIGO_PAYMENTS_ORPHAN_REPORT_AFTER": c.OrphanReportAfter,
		"FUNDIGO_INBOX_WINDOW": c.InboxWindow,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", key))
		}
	}
	if c.FinalDeadline <= c.QueryAfter {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_FINAL_DEADLINE must be longer than FUNDIGO_PAYMENTS_QUERY_AFTER"))
	}
	if c.ApplyBatch < 1 || c.ApplyBatch > 10000 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_APPLY_BATCH must be between 1 and 10000"))
	}
	if c.ApplyWorkers < 1 || c.ApplyWorkers > 64 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_APPLY_WORKERS must be between 1 and 64"))
	}
	if c.PushWindow < 0 || c.PushWindow > time.Second {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_PUSH_WINDOW must be between 0 and 1s"))
	}
	if c.PushBatch < 1 || c.PushBatch > 1000 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_PUSH_BATCH must be between 1 and 1000"))
	}
	if c.ApplyMaxAttempts < 1 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_APPLY_MAX_ATTEMPTS must be at least 1"))
	}
	if c.QuarantineCap < 1 {
		errs = append(errs, errors.New("FUNDIGO_INBOX_QUARANTINE_CAP must be at least 1"))
	}
	errs = append(errs, c.Reconcile.validate()...)
	return errs
}

// ParseCIDROrIP parses "196.201.214.0/24" or a single address "196.201.214.200".
func ParseCIDROrIP(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}
