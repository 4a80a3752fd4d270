package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
)

func TestDescribeShowsEffectiveValuesAndSources(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"FUNDIGO_HTTP_ADDR":            "0.0.0.0:9999",
		"FUNDIGO_AMQP_URL":             "amqp://fundigo:amqp-password@rabbit:5672/prod",
		"FUNDIGO_API_KEYS":             "django:very-secret-key-0123456789",
		"FUNDIGO_JWT_SECRET":           "jwt-secret-0123456789",
		"FUNDIGO_WORKER_CONCURRENCY":   "7",
		"FUNDIGO_HTTP_REQUEST_TIMEOUT": "1500ms",
	}
	getenv := func(k string) string { return vars[k] }
	cfg, err := config.Load(getenv)
	require.NoError(t, err)
	rows := config.Describe(cfg, getenv)
	keys, err := config.Keys()
	require.NoError(t, err)
	require.Len(t, rows, len(keys), "one row per variable")
	by := map[string]config.Setting{}
	for _, r := range rows {
		by[r.Key] = r
		for _, secret := range []string{"amqp-password", "very-secret-key", "jwt-secret"} {
			require.NotContains(t, r.Value+r.Default, secret, r.Key)
		}
	}
	require.Equal(t, config.Setting{Key: "FUNDIGO_HTTP_ADDR", Value: "0.0.0.0:9999", Default: "127.0.0.1:8080", Source: config.FromEnv},
		by["FUNDIGO_HTTP_ADDR"])
	require.Equal(t, config.FromDerived, by["FUNDIGO_PUBLIC_URL"].Source)
	require.Equal(t, "http://127.0.0.1:9999", by["FUNDIGO_PUBLIC_URL"].Value)
	require.Equal(t, "amqp://fundigo:xxxxx@rabbit:5672/prod", by["FUNDIGO_AMQP_URL"].Value, "a URL loses only its password")
	require.Equal(t, "django:[redacted]", by["FUNDIGO_API_KEYS"].Value)
	require.Equal(t, "[redacted]", by["FUNDIGO_JWT_SECRET"].Value)
	require.Equal(t, "7", by["FUNDIGO_WORKER_CONCURRENCY"].Value)
	require.Equal(t, "1.5s", by["FUNDIGO_HTTP_REQUEST_TIMEOUT"].Value)
	require.Equal(t, config.FromDefault, by["FUNDIGO_LOG_LEVEL"].Source)
	// Nothing left untouched looks changed: every other row is a default.
	for _, r := range rows {
		if vars[r.Key] == "" && r.Key != "FUNDIGO_PUBLIC_URL" {
			require.Equal(t, config.FromDefault, r.Source, "%s: %q vs default %q", r.Key, r.Value, r.Default)
		}
	}
}

// TestLoadNamesTheVariableNotTheGoField is issue #13 item 6: a value that
// does not parse is reported under its variable with what it expects, never
// as a Go field, and causes no second error about the same setting.
func TestLoadNamesTheVariableNotTheGoField(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"FUNDIGO_WORKER_CONCURRENCY": "abc",
		"FUNDIGO_HTTP_READ_TIMEOUT":  "5",
		"FUNDIGO_MPESA_VERIFY_ALL":   "maybe",
		"FUNDIGO_LOG_LEVEL":          "loud", // parses, fails validation: still reported
	}
	_, err := config.Load(func(k string) string { return vars[k] })
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, `FUNDIGO_WORKER_CONCURRENCY="abc": want a whole number`)
	require.Contains(t, msg, `FUNDIGO_HTTP_READ_TIMEOUT="5": want a duration`)
	require.Contains(t, msg, `FUNDIGO_MPESA_VERIFY_ALL="maybe": want true or false`)
	require.Contains(t, msg, "FUNDIGO_LOG_LEVEL")
	for _, goish := range []string{"field", "Concurrency", "strconv", "int64", "env:"} {
		require.NotContains(t, msg, goish)
	}
	require.Equal(t, 1, strings.Count(msg, "FUNDIGO_WORKER_CONCURRENCY"), "no knock-on error: %s", msg)
	require.Len(t, strings.Split(strings.TrimSpace(msg), "\n"), 4, msg)
}
