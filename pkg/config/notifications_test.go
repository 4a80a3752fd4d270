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
	require.Equal(t, 4, n.SendLoops)
	require.Equal(t, 1000, n.SendBatch)
	require.Equal(t, 2, n.FanOutLoops)
	require.Equal(t, 100, n.FanOutBatch)
	require.Equal(t, 100*time.Millisecond, n.SendIdle)

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_EXPO_BASE_URL":            "exp.host",
		"FUNDIGO_EXPO_RATE_PER_SECOND":     "1",
		"FUNDIGO_PUSH_STALE_CLAIM":         "10s",
		"FUNDIGO_FCM_SERVICE_ACCOUNT_JSON": "{}",
		"FUNDIGO_FCM_SERVICE_ACCOUNT_FILE": "/x.json",
		"FUNDIGO_PUSH_SEND_LOOPS":          "0",
		"FUNDIGO_PUSH_SEND_BATCH":          "10001",
		"FUNDIGO_PUSH_FANOUT_LOOPS":        "17",
		"FUNDIGO_PUSH_FANOUT_BATCH":        "-1",
		"FUNDIGO_PUSH_SEND_IDLE":           "0s",
	}))
	require.Error(t, err)
	for _, key := range []string{"FUNDIGO_EXPO_BASE_URL", "FUNDIGO_EXPO_RATE_PER_SECOND", "FUNDIGO_PUSH_STALE_CLAIM", "FUNDIGO_FCM_SERVICE_ACCOUNT_FILE",
		"FUNDIGO_PUSH_SEND_LOOPS", "FUNDIGO_PUSH_SEND_BATCH", "FUNDIGO_PUSH_FANOUT_LOOPS", "FUNDIGO_PUSH_FANOUT_BATCH", "FUNDIGO_PUSH_SEND_IDLE"} {
		require.Contains(t, err.Error(), key)
	}

	cfg, err = Load(envMap(map[string]string{"FUNDIGO_PUSH_SEND_LOOPS": "8", "FUNDIGO_PUSH_FANOUT_BATCH": "20", "FUNDIGO_PUSH_SEND_IDLE": "5ms"}))
	require.NoError(t, err)
	require.Equal(t, 8, cfg.Notifications.SendLoops)
	require.Equal(t, 20, cfg.Notifications.FanOutBatch)
	require.Equal(t, 5*time.Millisecond, cfg.Notifications.SendIdle)

	cfg, err = Load(envMap(map[string]string{"FUNDIGO_EXPO_ACCESS_TOKEN": "expo-secret-token"}))
	require.NoError(t, err)
	require.NotContains(t, cfg.Notifications.ExpoAccessToken.String(), "expo-secret-token")
}
