package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
)

// listen keeps a dedicated connection LISTENing on NotifyChannel and signals
// wake for every notification, reconnecting with backoff when the connection
// drops (PostgreSQL restart, terminated backend). It returns when ctx ends.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         5 * time.Second,
	}
	bo.Reset()
	for {
		listening, err := r.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		if listening {
			bo.Reset()
		}
		delay := bo.NextBackOff()
		r.log.Warn().Err(err).Dur("retry_in", delay).Msg("outbox listener lost; polling until it is back")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
	}
}

// listenOnce runs one LISTEN connection until it fails; listening reports
// whether LISTEN had succeeded.
func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}) (listening bool, err error) {
	cfg := r.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = r.cfg.Name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect outbox listener: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return false, fmt.Errorf("listen %s: %w", NotifyChannel, err)
	}
	// Rows may have committed while nobody was listening.
	signal(wake)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("wait for outbox notification: %w", err)
		}
		signal(wake)
	}
}

// signal wakes the relay loop without blocking; one pending wake is enough.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
