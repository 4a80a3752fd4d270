package main

import (
	"fmt"
	"net/http"
	"os"

	"fundigo/pkg/expo"
	"fundigo/pkg/fcm"
	"fundigo/pkg/notification"
	"fundigo/workers"
	"fundigo/workers/notifications"
)

// registerNotifications wires the notifications worker: the Expo client
// (shared Redis rate limit, against the in-process push simulator when
// FUNDIGO_EXPO_BASE_URL is empty and `all` did not start one), the FCM
// client when a service account is configured, the push:send and
// push:receipts tasks and the event consumers.
func registerNotifications(w *workers.Server, in *infra) error {
	nc := in.cfg.Notifications
	limiter, err := expo.NewRedisLimiter(in.redis, in.cfg.Redis.KeyPrefix+"expo:push", nc.ExpoRatePerSecond)
	if err != nil {
		return err
	}
	ec, err := expo.NewClient(expo.Config{
		BaseURL: nc.ExpoBaseURL, AccessToken: nc.ExpoAccessToken.Reveal(), Timeout: nc.Timeout,
		MaxConcurrent: nc.ExpoMaxConcurrent, MaxAttempts: nc.MaxAttempts, Limiter: in.metrics.PushLimiter(limiter),
		HTTPClient: &http.Client{Transport: in.clientTransport(in.metrics.PushTransport("expo", nil))},
	})
	if err != nil {
		return err
	}
	deps := notifications.Deps{
		Log: in.log.With().Str("component", "notifications").Logger(), Pool: in.pool, Tasks: in.tasks,
		Queues: in.queues, Expo: ec, QueuePrefix: in.cfg.AMQP.QueuePrefix,
		ReceiptDelay: nc.ReceiptDelay, StaleClaim: nc.StaleClaim,
		// Every worker process runs the sender loop below, so fan-outs
		// queue no per-notification push:send tasks.
		SendLoop: true,
		Sender: notification.SenderConfig{
			Loops: nc.SendLoops, Batch: nc.SendBatch, FanOutLoops: nc.FanOutLoops, FanOutBatch: nc.FanOutBatch,
			Idle: nc.SendIdle,
		},
	}
	fc, err := newFCMClient(nc.FCMServiceAccountJSON.Reveal(), nc.FCMServiceAccountFile, fcm.Config{
		BaseURL: nc.FCMBaseURL, TokenURL: nc.FCMTokenURL, ProjectID: nc.FCMProjectID,
		Timeout: nc.Timeout, MaxAttempts: nc.MaxAttempts,
		HTTPClient: &http.Client{Transport: in.clientTransport(in.metrics.PushTransport("fcm", nil))},
	})
	if err != nil {
		return err
	}
	if fc != nil {
		deps.FCM = fc
	}
	if err := notifications.Register(w.Mux(), deps); err != nil {
		return err
	}
	sender, err := notifications.Sender(deps)
	if err != nil {
		return err
	}
	w.AddRunner(sender)
	specs, err := notifications.Consumers(deps)
	if err != nil {
		return err
	}
	w.AddConsumer(specs...)
	return nil
}

// newFCMClient returns nil when no service account is configured.
func newFCMClient(inline, file string, cfg fcm.Config) (*fcm.Client, error) {
	raw := []byte(inline)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read FUNDIGO_FCM_SERVICE_ACCOUNT_FILE: %w", err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil, nil
	}
	sa, err := fcm.ParseServiceAccount(raw)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	cfg.Account = sa
	return fcm.NewClient(cfg)
}
