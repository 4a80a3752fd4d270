package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Notifications configures push delivery: the Expo and FCM endpoints (empty
// base URLs mean the in-process push simulator under `fundigo all`), the
// project-wide Expo rate, retries, and the receipt schedule.
type Notifications struct {
	// ExpoBaseURL is the Expo push service; empty runs the simulator in-process
	// (`all` only; `worker` then needs a URL, e.g. a `fundigo push-sim`).
	ExpoBaseURL string `env:"FUNDIGO_EXPO_BASE_URL"`
	// ExpoAccessToken is sent when Expo "enhanced push security" is on.
	ExpoAccessToken Secret `env:"FUNDIGO_EXPO_ACCESS_TOKEN"`
	// ExpoRatePerSecond is the ceiling of notifications per second for the
	// whole project (all workers share it through Redis); Expo allows 600.
	ExpoRatePerSecond int `env:"FUNDIGO_EXPO_RATE_PER_SECOND" envDefault:"600"`
	// ExpoMaxConcurrent bounds Expo requests in flight per process.
	ExpoMaxConcurrent int `env:"FUNDIGO_EXPO_MAX_CONCURRENT" envDefault:"6"`
	// Timeout bounds one HTTP call to a provider.
	Timeout time.Duration `env:"FUNDIGO_PUSH_TIMEOUT" envDefault:"10s"`
	// MaxAttempts bounds in-call retries of one provider request (429/5xx).
	MaxAttempts int `env:"FUNDIGO_PUSH_MAX_ATTEMPTS" envDefault:"5"`

	// FCMBaseURL and FCMTokenURL default to Google's; FCM is used only when a
	// service account is configured (JSON inline or a file path).
	FCMBaseURL            string `env:"FUNDIGO_FCM_BASE_URL"`
	FCMTokenURL           string `env:"FUNDIGO_FCM_TOKEN_URL"`
	FCMProjectID          string `env:"FUNDIGO_FCM_PROJECT_ID"`
	FCMServiceAccountJSON Secret `env:"FUNDIGO_FCM_SERVICE_ACCOUNT_JSON"`
	FCMServiceAccountFile string `env:"FUNDIGO_FCM_SERVICE_ACCOUNT_FILE"`

	// ReceiptDelay is how old a ticket must be before its receipt is asked
	// for (Expo: about 15 minutes).
	ReceiptDelay time.Duration `env:"FUNDIGO_PUSH_RECEIPT_DELAY" envDefault:"15m"`
	// StaleClaim is how long a claimed delivery may stay unsettled before it is
	// failed as "outcome unknown" (its worker died mid-send); never resent.
	StaleClaim time.Duration `env:"FUNDIGO_PUSH_STALE_CLAIM" envDefault:"10m"`

	// The sender loop every worker process runs (notification.SenderConfig):
	// SendLoops loops each claim up to SendBatch due deliveries across
	// notifications, send them in full provider requests and settle them;
	// FanOutLoops loops each fan out up to FanOutBatch queued notifications
	// in one transaction, about SendBatch deliveries' worth, and hand the
	// rows to the send loops in memory when they have room (written already
	// claimed), pending for the next claim otherwise. SendIdle is how long a
	// loop that found nothing waits before it looks again. Each loop holds
	// at most one database connection, and a worker process's pool has one
	// per loop on top of FUNDIGO_DATABASE_MAX_CONNS.
	SendLoops   int           `env:"FUNDIGO_PUSH_SEND_LOOPS" envDefault:"4"`
	SendBatch   int           `env:"FUNDIGO_PUSH_SEND_BATCH" envDefault:"1000"`
	FanOutLoops int           `env:"FUNDIGO_PUSH_FANOUT_LOOPS" envDefault:"2"`
	FanOutBatch int           `env:"FUNDIGO_PUSH_FANOUT_BATCH" envDefault:"100"`
	SendIdle    time.Duration `env:"FUNDIGO_PUSH_SEND_IDLE" envDefault:"100ms"`

	// PushSimAddr is where `fundigo push-sim` listens.
	PushSimAddr string `env:"FUNDIGO_PUSHSIM_ADDR" envDefault:"127.0.0.1:8092"`
}

// MaxPushLoops bounds FUNDIGO_PUSH_SEND_LOOPS and FUNDIGO_PUSH_FANOUT_LOOPS:
// a worker process's pool gets one connection per loop on top of
// FUNDIGO_DATABASE_MAX_CONNS, and PostgreSQL's connections are shared by
// every process.
const MaxPushLoops = 16

func (c Notifications) validate() []error {
	var errs []error
	for key, raw := range map[string]string{
		"FUNDIGO_EXPO_BASE_URL": c.ExpoBaseURL, "FUNDIGO_FCM_BASE_URL": c.FCMBaseURL, "FUNDIGO_FCM_TOKEN_URL": c.FCMTokenURL,
	} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL", key))
		}
	}
	if c.ExpoRatePerSecond < 2 {
		errs = append(errs, errors.New("FUNDIGO_EXPO_RATE_PER_SECOND must be at least 2"))
	}
	if c.ExpoMaxConcurrent < 1 {
		errs = append(errs, errors.New("FUNDIGO_EXPO_MAX_CONCURRENT must be at least 1"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_PUSH_TIMEOUT must be positive"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("FUNDIGO_PUSH_MAX_ATTEMPTS must be at least 1"))
	}
	if c.ReceiptDelay < 0 {
		errs = append(errs, errors.New("FUNDIGO_PUSH_RECEIPT_DELAY must not be negative"))
	}
	if c.StaleClaim < time.Minute {
		errs = append(errs, errors.New("FUNDIGO_PUSH_STALE_CLAIM must be at least 1m"))
	}
	for _, b := range []struct {
		key       string
		v, lo, hi int
	}{
		{"FUNDIGO_PUSH_SEND_LOOPS", c.SendLoops, 1, MaxPushLoops},
		{"FUNDIGO_PUSH_FANOUT_LOOPS", c.FanOutLoops, 1, MaxPushLoops},
		{"FUNDIGO_PUSH_SEND_BATCH", c.SendBatch, 1, 10000},
		{"FUNDIGO_PUSH_FANOUT_BATCH", c.FanOutBatch, 1, 1000},
	} {
		if b.v < b.lo || b.v > b.hi {
			errs = append(errs, fmt.Errorf("%s must be between %d and %d", b.key, b.lo, b.hi))
		}
	}
	if c.SendIdle < time.Millisecond || c.SendIdle > time.Minute {
		errs = append(errs, errors.New("FUNDIGO_PUSH_SEND_IDLE must be between 1ms and 1m"))
	}
	if c.FCMServiceAccountJSON != "" && c.FCMServiceAccountFile != "" {
		errs = append(errs, errors.New("set FUNDIGO_FCM_SERVICE_ACCOUNT_JSON or FUNDIGO_FCM_SERVICE_ACCOUNT_FILE, not both"))
	}
	return errs
}
