package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/expo/exposim"
)

// A production role with no Daraja/Expo configuration and no simulator flag
// refuses to start, naming what is missing, before touching any service.
func TestWorkerWithoutExternalAPIsRefusesToStart(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"worker"}, func(string) string { return "" }, &out, &out)
	require.Error(t, err)
	for _, v := range []string{"FUNDIGO_MPESA_BASE_URL", "FUNDIGO_MPESA_CONSUMER_KEY", "FUNDIGO_MPESA_PASSKEY",
		"FUNDIGO_MPESA_CALLBACK_TOKEN", "FUNDIGO_EXPO_BASE_URL", "FUNDIGO_SIMULATORS"} {
		require.Contains(t, err.Error(), v)
	}
	require.NotContains(t, out.String(), "simulator running in-process")

	// Daraja configured, Expo not: only Expo is named.
	err = run(ctx, []string{"worker"}, func(k string) string {
		return map[string]string{
			"FUNDIGO_MPESA_BASE_URL": "https://sandbox.safaricom.co.ke", "FUNDIGO_MPESA_CONSUMER_KEY": "k",
			"FUNDIGO_MPESA_CONSUMER_SECRET": "s", "FUNDIGO_MPESA_PASSKEY": "p",
			"FUNDIGO_MPESA_CALLBACK_TOKEN": "0123456789abcdef0123", "FUNDIGO_MPESA_ALLOWED_CIDRS": "196.201.214.0/24",
		}[k]
	}, &out, &out)
	require.Error(t, err)
	require.Contains(t, err.Error(), "FUNDIGO_EXPO_BASE_URL")
	require.NotContains(t, err.Error(), "FUNDIGO_MPESA_BASE_URL")

	err = run(ctx, []string{"worker"}, func(k string) string {
		return map[string]string{"FUNDIGO_SIMULATORS": "maybe"}[k]
	}, &out, &out)
	require.ErrorContains(t, err, "FUNDIGO_SIMULATORS")
}

// `all` with simulators explicitly off is a production process too.
func TestAllWithSimulatorsOffNeedsExternalAPIs(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, map[string]string{"FUNDIGO_SIMULATORS": "false"})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"all"}, getenv, &out, &out)
	require.ErrorContains(t, err, "FUNDIGO_MPESA_BASE_URL")
	require.NotContains(t, out.String(), "simulator running in-process")
}

// Read-only commands and the scheduler never start a simulator and need no
// Daraja/Expo configuration.
func TestSchedulerListStartsNoSimulator(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"scheduler", "list"}, getenv, &out, &logs))
	require.Contains(t, out.String(), "payments:reconcile")
	require.NotContains(t, logs.String(), "simulator")
}

// FUNDIGO_SCHEDULER_DISABLE switches single schedules off: `scheduler
// list` shows them disabled, and a name the table does not declare is an
// error listing the declared ones.
func TestSchedulerListShowsDisabledSchedules(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, map[string]string{"FUNDIGO_SCHEDULER_DISABLE": "ratings:recompute_all"})
	var out, logs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"scheduler", "list"}, getenv, &out, &logs))
	var disabled []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "disabled") {
			disabled = append(disabled, strings.Fields(line)[0])
		}
	}
	require.Equal(t, []string{"ratings:recompute_all"}, disabled, "%s", out.String())

	getenv, _ = testEnv(t, map[string]string{"FUNDIGO_SCHEDULER_DISABLE": "ratings:recompute"})
	err := run(context.Background(), []string{"scheduler", "list"}, getenv, &out, &logs)
	require.ErrorContains(t, err, `FUNDIGO_SCHEDULER_DISABLE`)
	require.ErrorContains(t, err, `"ratings:recompute"`)
	require.ErrorContains(t, err, "ratings:recompute_all")
}

// FUNDIGO_SIMULATORS=true lets a standalone worker run the simulators.
func TestWorkerWithSimulatorsFlagStarts(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, map[string]string{"FUNDIGO_SIMULATORS": "true"})
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"worker"}, getenv, logs, logs) }()
	require.Eventually(t, func() bool {
		s := logs.String()
		return bytes.Contains([]byte(s), []byte("workers started"))
	}, 30*time.Second, 50*time.Millisecond, "worker starts: %s", logs.String())
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, logs.String(), "mpesa simulator running in-process")
	require.Contains(t, logs.String(), "push simulator running in-process")
}

// TestSimulatorBannerPrintsOnlyAMadeUpToken: the development banner shows
// the full webhook URL when its token was made up for this run, and never a
// configured token.
func TestSimulatorBannerPrintsOnlyAMadeUpToken(t *testing.T) {
	t.Parallel()
	cfg := config.Config{}
	cfg.HTTP.PublicURL = "http://127.0.0.1:8080"
	cfg.Payments.CallbackToken = "configured-token-0123456789"
	cfg.Notifications.ExpoBaseURL = "http://127.0.0.1:8092"
	var out strings.Builder
	(&simulators{mpesa: true, push: exposim.New(exposim.Options{})}).describe(&out, cfg)
	require.NotContains(t, out.String(), "configured-token-0123456789")
	require.Contains(t, out.String(), "/v1/webhooks/daraja/stk/$FUNDIGO_MPESA_CALLBACK_TOKEN")
	require.Contains(t, out.String(), "http://127.0.0.1:8092/_sim/messages")

	out.Reset()
	(&simulators{mpesa: true, tokenMadeUp: true}).describe(&out, cfg)
	require.Contains(t, out.String(), "http://127.0.0.1:8080/v1/webhooks/daraja/stk/configured-token-0123456789")
}
