package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNotificationsDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	n := cfg.Notifications
	require.Empty(t, n.ExpoBaseURL, "empty means the push simulator")
	require.Equal(t, 600, n.ExpoRatePerSecond)
	require.Equal(t, 6, n.ExpoMaxConcurrent)
	require.Equal(t, 15*time.Minute, n.ReceiptDelay)

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_EXPO_BASE_URL":            "exp.host",
		"FUNDIGO_EXPO_RATE_PER_SECOND":     "1",
		"FUNDIGO_PUSH_STALE_CLAIM":         "10s",
		"FUNDIGO_FCM_SERVICE_ACCOUNT_JSON": "{}",
		"FUNDIGO_FCM_SERVICE_ACCOUNT_FILE": "/x.json",
	}))
	require.Error(t, err)
	for _, key := range []string{"FUNDIGO_EXPO_BASE_URL", "FUNDIGO_EXPO_RATE_PER_SECOND", "FUNDIGO_PUSH_STALE_CLAIM", "FUNDIGO_FCM_SERVICE_ACCOUNT_FILE"} {
		require.Contains(t, err.Error(), key)
	}

	cfg, err = Load(envMap(map[string]string{"FUNDIGO_EXPO_ACCESS_TOKEN": "expo-secret-token"}))
	require.NoError(t, err)
	require.NotContains(t, cfg.Notifications.ExpoAccessToken.String(), "expo-secret-token")
}
