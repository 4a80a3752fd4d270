package main

import (
	"context"

	"fundigo/pkg/config"
	"fundigo/pkg/live"
	"fundigo/workers"
	"fundigo/workers/livefeed"
)

// liveConfig is pkg/live's view of FUNDIGO_STREAM_*.
func liveConfig(c config.Stream) live.Config {
	return live.Config{
		Retention: c.Retention, MaxLen: c.MaxLen, SendBuffer: c.SendBuffer,
		MaxPerUser: c.MaxPerUser, MaxConns: c.MaxConns, Heartbeat: c.Heartbeat, IdleTimeout: c.IdleTimeout,
	}
}

func liveStreams(in *infra) (*live.Streams, error) {
	return live.NewStreams(in.redis, in.cfg.Redis.KeyPrefix, liveConfig(in.cfg.Stream))
}

// registerLive wires the consumer that feeds live updates from the events.
func registerLive(w *workers.Server, in *infra) error {
	streams, err := liveStreams(in)
	if err != nil {
		return err
	}
	specs, err := livefeed.Consumers(livefeed.Deps{
		Log: in.log.With().Str("component", "livefeed").Logger(), Streams: streams,
		QueuePrefix: in.cfg.AMQP.QueuePrefix,
		Concurrency: in.cfg.Stream.Concurrency, DeliveryLimit: in.cfg.AMQP.DeliveryLimit,
	})
	if err != nil {
		return err
	}
	w.AddConsumer(specs...)
	return nil
}

// startLiveHub builds the API's live-update hub and runs it until stop,
// which drops every stream with live.ErrShutdown (clients are told to
// reconnect) and waits for the hub to return. Call stop before the HTTP
// server's Shutdown, which waits for open SSE responses.
func startLiveHub(ctx context.Context, in *infra) (hub *live.Hub, stop func(), err error) {
	streams, err := liveStreams(in)
	if err != nil {
		return nil, nil, err
	}
	hub = live.NewHub(streams, in.log, live.NewMetrics(in.registry))
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hub.Run(hctx); err != nil {
			in.log.Error().Err(err).Msg("live hub stopped")
		}
	}()
	return hub, func() { cancel(); <-done }, nil
}
