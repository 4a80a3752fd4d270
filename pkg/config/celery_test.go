package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCeleryDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(nil))
	require.NoError(t, err)
	c := cfg.Celery
	require.False(t, c.Enabled, "off until an operator moves a queue over")
	require.Equal(t, []string{"celery"}, c.Queues)
	require.Equal(t, "celery.unknown", c.DeadLetterQueue)
	require.Equal(t, 24*time.Hour, c.ResultExpires)
	require.True(t, c.RemoteControl, "Celery's worker_enable_remote_control default")
	require.Equal(t, "celery", c.ControlExchange)
	require.Equal(t, map[string]string{
		"notifications.tasks.send_notification_async": "notifications.send",
		"payments.tasks.process_payment_callback":     "payments.callback",
		"ratings.tasks.update_technician_ratings":     "ratings.recompute_all",
	}, c.Tasks)
}

func TestCeleryOverridesAndErrors(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(map[string]string{
		"FUNDIGO_CELERY_ENABLED": "true",
		"FUNDIGO_CELERY_QUEUES":  "celery,payments",
		"FUNDIGO_CELERY_TASKS":   "billing.tasks.charge=payments.callback",
	}))
	require.NoError(t, err)
	require.True(t, cfg.Celery.Enabled)
	require.Equal(t, []string{"celery", "payments"}, cfg.Celery.Queues)
	require.Equal(t, map[string]string{"billing.tasks.charge": "payments.callback"}, cfg.Celery.Tasks)

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_CELERY_QUEUES":            "celery,bad queue",
		"FUNDIGO_CELERY_DEAD_LETTER_QUEUE": "celery",
		"FUNDIGO_CELERY_RESULT_URL":        "http://x",
		"FUNDIGO_CELERY_CONCURRENCY":       "4",
		"FUNDIGO_CELERY_PREFETCH":          "2",
		"FUNDIGO_CELERY_RETRY_DELAY":       "-1s",
		"FUNDIGO_CELERY_CONTROL_EXCHANGE":  "a b",
		"FUNDIGO_CELERY_HOSTNAME":          "go worker@host",
	}))
	require.Error(t, err)
	for _, want := range []string{`invalid queue name "bad queue"`, "FUNDIGO_CELERY_DEAD_LETTER_QUEUE", "FUNDIGO_CELERY_RESULT_URL",
		"FUNDIGO_CELERY_PREFETCH", "FUNDIGO_CELERY_RETRY_DELAY", "FUNDIGO_CELERY_CONTROL_EXCHANGE", "FUNDIGO_CELERY_HOSTNAME"} {
		require.ErrorContains(t, err, want)
	}
}

func TestCeleryRedisBroker(t *testing.T) {
	t.Parallel()
	cfg, err := Load(envMap(map[string]string{
		"FUNDIGO_CELERY_BROKER_URL":         "redis://127.0.0.1:6379/0",
		"FUNDIGO_CELERY_BROKER_KEY_PREFIX":  "django:",
		"FUNDIGO_CELERY_VISIBILITY_TIMEOUT": "2h",
	}))
	require.NoError(t, err)
	require.True(t, cfg.Celery.RedisBroker())
	require.Equal(t, "django:", cfg.Celery.BrokerKeyPrefix)
	require.Equal(t, 2*time.Hour, cfg.Celery.VisibilityTimeout)

	cfg, err = Load(envMap(nil))
	require.NoError(t, err)
	require.False(t, cfg.Celery.RedisBroker(), "empty shares FUNDIGO_AMQP_URL")
	require.Equal(t, time.Hour, cfg.Celery.VisibilityTimeout, "kombu's default")

	_, err = Load(envMap(map[string]string{
		"FUNDIGO_CELERY_BROKER_URL":         "sqs://x",
		"FUNDIGO_CELERY_VISIBILITY_TIMEOUT": "0s",
	}))
	require.ErrorContains(t, err, "FUNDIGO_CELERY_BROKER_URL")
	require.ErrorContains(t, err, "FUNDIGO_CELERY_VISIBILITY_TIMEOUT")
}
