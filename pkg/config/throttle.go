package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Throttle configures the API's scoped rate limits (the scalability guide's
// DRF throttles plus the service and webhook scopes) and the per-phone STK
// caps. Every rate is "N/unit" (unit second, minute, hour or day, or their
// first letter, as DRF reads them); "0" disables that limit.
type Throttle struct {
	// Anon: per client IP, for unauthenticated API routes and for every
	// failed authentication (wrong API key, bad bearer token, wrong webhook
	// token).
	Anon Rate `env:"FUNDIGO_THROTTLE_ANON" envDefault:"100/hour"`
	// User: per user (JWT user_id) on every route a user token reaches.
	User Rate `env:"FUNDIGO_THROTTLE_USER" envDefault:"1000/hour"`
	// Payment: POST /v1/payments per customer (customer_id of the body),
	// whichever key the Django app calls with.
	Payment Rate `env:"FUNDIGO_THROTTLE_PAYMENT" envDefault:"10/minute"`
	// OTP: per phone for whatever sends one-time codes.
	OTP Rate `env:"FUNDIGO_THROTTLE_OTP" envDefault:"5/hour"`
	// Service: per service key, a backstop against a runaway or leaked key.
	Service Rate `env:"FUNDIGO_THROTTLE_SERVICE" envDefault:"10000/second"`
	// Webhook: per source IP on the Daraja webhooks; sources inside
	// FUNDIGO_MPESA_ALLOWED_CIDRS are exempt.
	Webhook Rate `env:"FUNDIGO_THROTTLE_WEBHOOK" envDefault:"10000/second"`
	// RedisBudget bounds one limiter decision; past it (or while the breaker
	// is open after repeated failures) requests are let through.
	RedisBudget time.Duration `env:"FUNDIGO_THROTTLE_REDIS_BUDGET" envDefault:"75ms"`

	// STKMaxOpenPerPhone: STK pushes awaiting the customer on one phone at
	// once; more get 429. 0 disables.
	STKMaxOpenPerPhone int `env:"FUNDIGO_STK_MAX_OPEN_PER_PHONE" envDefault:"3"`
	// STKMaxPerPhoneHour: STK pushes to one phone in the last hour. 0 disables.
	STKMaxPerPhoneHour int `env:"FUNDIGO_STK_MAX_PER_PHONE_HOUR" envDefault:"10"`
}

// Rate is N events per Period; the zero Rate is "no limit".
type Rate struct {
	N      int
	Period time.Duration
}

// Enabled reports whether the rate limits anything.
func (r Rate) Enabled() bool { return r.N > 0 && r.Period > 0 }

// String renders the rate as ParseRate reads it.
func (r Rate) String() string {
	if !r.Enabled() {
		return "0"
	}
	for _, u := range rateUnits {
		if r.Period == u.d {
			return strconv.Itoa(r.N) + "/" + u.name
		}
	}
	return strconv.Itoa(r.N) + "/" + r.Period.String()
}

// UnmarshalText lets the env parser read a Rate.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// maxRateN keeps N (and the limiter's arithmetic on it) sane.
const maxRateN = 1_000_000_000

var rateUnits = []struct {
	name string
	d    time.Duration
}{{"second", time.Second}, {"minute", time.Minute}, {"hour", time.Hour}, {"day", 24 * time.Hour}}

// ParseRate reads "100/hour", "10/m", "10000/s" or "0" (disabled). The unit
// is second, minute, hour or day, matched on its first letter as DRF does
// ("100/hr" is 100 per hour).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return Rate{}, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/unit (second, minute, hour, day) or 0", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 || n > maxRateN {
		return Rate{}, fmt.Errorf("rate %q: N must be a whole number between 0 and %d", s, maxRateN)
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	if unit == "" {
		return Rate{}, fmt.Errorf("rate %q: missing unit", s)
	}
	for _, u := range rateUnits {
		if unit[0] == u.name[0] {
			if n == 0 {
				return Rate{}, nil
			}
			return Rate{N: n, Period: u.d}, nil
		}
	}
	return Rate{}, fmt.Errorf("rate %q: unit must be second, minute, hour or day", s)
}

func (c Throttle) validate() []error {
	var errs []error
	if c.RedisBudget <= 0 || c.RedisBudget > time.Second {
		errs = append(errs, errors.New("FUNDIGO_THROTTLE_REDIS_BUDGET must be between 1ns and 1s"))
	}
	if c.STKMaxOpenPerPhone < 0 {
		errs = append(errs, errors.New("FUNDIGO_STK_MAX_OPEN_PER_PHONE must not be negative (0 disables)"))
	}
	if c.STKMaxPerPhoneHour < 0 {
		errs = append(errs, errors.New("FUNDIGO_STK_MAX_PER_PHONE_HOUR must not be negative (0 disables)"))
	}
	return errs
}
