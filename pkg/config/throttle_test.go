package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Rate{
		"100/hour":     {100, time.Hour},
		"1000/h":       {1000, time.Hour},
		"10/minute":    {10, time.Minute},
		"10/min":       {10, time.Minute},
		"10000/second": {10000, time.Second},
		"10000/s":      {10000, time.Second},
		"5/day":        {5, 24 * time.Hour},
		" 7 / Hour ":   {7, time.Hour},
		"0":            {},
		"0/hour":       {},
	} {
		got, err := ParseRate(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"100", "x/hour", "-1/hour", "100/", "100/week", "1.5/s", "2000000000/s"} {
		_, err := ParseRate(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "100/hour", Rate{100, time.Hour}.String())
	require.Equal(t, "0", Rate{}.String())
	require.False(t, Rate{}.Enabled())
}

func TestThrottleDefaultsAreTheGuides(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	th := cfg.Throttle
	require.Equal(t, Rate{100, time.Hour}, th.Anon)
	require.Equal(t, Rate{1000, time.Hour}, th.User)
	require.Equal(t, Rate{10, time.Minute}, th.Payment)
	require.Equal(t, Rate{5, time.Hour}, th.OTP)
	require.True(t, th.Service.Enabled(), "the service scope is high but finite")
	require.Equal(t, Rate{10000, time.Second}, th.Webhook)
	require.Equal(t, 3, th.STKMaxOpenPerPhone)
	require.Equal(t, 10, th.STKMaxPerPhoneHour)
	require.Positive(t, th.RedisBudget)
}

func TestThrottleFromEnvAndErrors(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(map[string]string{
		"FUNDIGO_THROTTLE_ANON": "0", "FUNDIGO_THROTTLE_PAYMENT": "3/m",
		"FUNDIGO_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1",
	}))
	require.NoError(t, err)
	require.False(t, cfg.Throttle.Anon.Enabled())
	require.Equal(t, Rate{3, time.Minute}, cfg.Throttle.Payment)
	require.Equal(t, []string{"10.0.0.0/8", "192.168.1.1"}, cfg.HTTP.TrustedProxies)

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_THROTTLE_USER": "lots", "FUNDIGO_STK_MAX_OPEN_PER_PHONE": "-1",
		"FUNDIGO_TRUSTED_PROXIES": "not-an-ip", "FUNDIGO_THROTTLE_REDIS_BUDGET": "0s",
	}))
	require.Error(t, err)
	for _, want := range []string{`"lots"`, "FUNDIGO_STK_MAX_OPEN_PER_PHONE", "FUNDIGO_TRUSTED_PROXIES", "FUNDIGO_THROTTLE_REDIS_BUDGET"} {
		require.Contains(t, err.Error(), want)
	}
}

// The README's configuration table lists every limit with its default.
func TestREADMEListsEveryLimit(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	keys, err := Keys()
	require.NoError(t, err)
	for _, kv := range keys {
		if !strings.HasPrefix(kv[0], "FUNDIGO_THROTTLE_") && !strings.HasPrefix(kv[0], "FUNDIGO_STK_") && kv[0] != "FUNDIGO_TRUSTED_PROXIES" {
			continue
		}
		def := "—"
		if kv[1] != "" {
			def = "`" + kv[1] + "`"
		}
		require.Contains(t, string(readme), "| `"+kv[0]+"` | "+def+" |", kv[0])
	}
}
