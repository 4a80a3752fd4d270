package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsReachLocalServices(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTP.Addr)
	require.Equal(t, "http://127.0.0.1:8080", cfg.HTTP.PublicURL)
	require.Contains(t, cfg.Database.URL.Reveal(), "127.0.0.1:5432/fundigo")
	require.Equal(t, "amqp://guest:guest@127.0.0.1:5672/", cfg.AMQP.URL.Reveal())
	require.Equal(t, 25*time.Second, cfg.ShutdownTimeout)
}

func TestLoadReportsEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Load(envMap(map[string]string{
		"FUNDIGO_HTTP_ADDR":        "nonsense",
		"FUNDIGO_LOG_FORMAT":       "xml",
		"FUNDIGO_REDIS_URL":        "http://127.0.0.1:6379",
		"FUNDIGO_SHUTDOWN_TIMEOUT": "soon",
		"FUNDIGO_API_KEYS":         "django:short",
	}))
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"FUNDIGO_HTTP_ADDR", "FUNDIGO_LOG_FORMAT", "FUNDIGO_REDIS_URL", "FUNDIGO_SHUTDOWN_TIMEOUT", "FUNDIGO_API_KEYS"} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "short", "a secret never appears in an error")
	require.NotContains(t, msg, "FUNDIGO_PUBLIC_URL", "no knock-on error from the derived public URL")
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(map[string]string{
		"FUNDIGO_API_KEYS":     "django:0123456789abcdef-secret",
		"FUNDIGO_JWT_SECRET":   "jwt-secret-value-0123456789",
		"FUNDIGO_DATABASE_URL": "postgres://u:dbpassword@127.0.0.1/x",
	}))
	require.NoError(t, err)
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	for _, s := range []string{string(b), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		require.NotContains(t, s, "0123456789abcdef-secret")
		require.NotContains(t, s, "jwt-secret-value")
		require.NotContains(t, s, "dbpassword")
	}
	require.True(t, strings.Contains(string(b), "django"))
}

func TestAPIKeysMatch(t *testing.T) {
	t.Parallel()
	var k APIKeys
	require.NoError(t, k.UnmarshalText([]byte("django:aaaaaaaaaaaaaaaa1, ops:bbbbbbbbbbbbbbbb2")))
	name, ok := k.Match("bbbbbbbbbbbbbbbb2")
	require.True(t, ok)
	require.Equal(t, "ops", name)
	_, ok = k.Match("bbbbbbbbbbbbbbbb3")
	require.False(t, ok)
	_, ok = k.Match("")
	require.False(t, ok)
	require.Error(t, k.UnmarshalText([]byte("a:bbbbbbbbbbbbbbbbbb,a:cccccccccccccccccc")))
}

// Issue #12 row 1: with a real Daraja URL, an empty source allowlist is a
// startup error unless every success is to be confirmed with Daraja.
func TestRealDarajaNeedsAllowlistOrVerifyAll(t *testing.T) {
	t.Parallel()
	real := map[string]string{
		"FUNDIGO_MPESA_BASE_URL": "https://api.safaricom.co.ke", "FUNDIGO_MPESA_CONSUMER_KEY": "k",
		"FUNDIGO_MPESA_CONSUMER_SECRET": "s", "FUNDIGO_MPESA_PASSKEY": "p",
		"FUNDIGO_MPESA_CALLBACK_TOKEN": "0123456789abcdef0123",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range real {
			m[a] = b
		}
		return m
	}
	_, err := Load(envMap(real))
	require.ErrorContains(t, err, "FUNDIGO_MPESA_ALLOWED_CIDRS")
	require.ErrorContains(t, err, "FUNDIGO_MPESA_VERIFY_ALL")

	cfg, err := Load(envMap(with("FUNDIGO_MPESA_VERIFY_ALL", "true")))
	require.NoError(t, err)
	require.True(t, cfg.Payments.VerifyAll)
	_, err = Load(envMap(with("FUNDIGO_MPESA_ALLOWED_CIDRS", "196.201.214.0/24")))
	require.NoError(t, err)
	_, err = Load(envMap(nil))
	require.NoError(t, err, "the simulators need neither")
}

// FUNDIGO_SCHEDULER_DISABLE lists schedule names; whether each is declared
// is checked by the scheduler, which knows the table.
func TestSchedulerDisable(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	require.Empty(t, cfg.Scheduler.Disable, "every schedule on by default")

	cfg, err = Load(envMap(map[string]string{"FUNDIGO_SCHEDULER_DISABLE": "ratings:recompute_all,push:receipts"}))
	require.NoError(t, err)
	require.Equal(t, []string{"ratings:recompute_all", "push:receipts"}, cfg.Scheduler.Disable)

	_, err = Load(envMap(map[string]string{"FUNDIGO_SCHEDULER_DISABLE": "push:receipts,,push:receipts"}))
	require.ErrorContains(t, err, `FUNDIGO_SCHEDULER_DISABLE: schedule name "" is empty`)
	require.ErrorContains(t, err, `FUNDIGO_SCHEDULER_DISABLE: "push:receipts" named twice`)
}
