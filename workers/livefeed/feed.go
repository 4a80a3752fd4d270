package livefeed

import (
	"context"
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/live"
	"fundigo/pkg/outbox"
)

type feeder struct {
	log     zerolog.Logger
	streams *live.Streams
}

// handle appends one event to each owner's stream. Appends are idempotent
// per (message id, owner), so a redelivery after a partial failure sends
// each owner the event once. An event naming no valid owner is acked and
// skipped: nobody can watch it.
func (f *feeder) handle(owners ownersFunc) amqpx.HandlerFunc {
	return func(ctx context.Context, d amqp.Delivery) error {
		key := d.RoutingKey
		if info, ok := amqpx.InfoFrom(ctx); ok && info.RoutingKey != "" {
			key = info.RoutingKey
		}
		us, data, err := owners(d.Body)
		if err != nil {
			return amqpx.Permanent(err)
		}
		at := committedAt(d)
		for _, u := range us {
			if !live.ValidOwner(u) {
				zerolog.Ctx(ctx).Debug().Str("routing_key", key).Msg("live event without a valid owner; skipped")
				continue
			}
			_, _, err := f.streams.Append(ctx, live.Event{Owner: u, Type: key, MessageID: d.MessageId, At: at, Data: data})
			if errors.Is(err, live.ErrInvalidEvent) {
				return amqpx.Permanent(err)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// committedAt is the outbox row's time (microseconds) when the relay sent
// it, else the Timestamp property (seconds), else now.
func committedAt(d amqp.Delivery) time.Time {
	switch v := d.Headers[outbox.HeaderCreatedAt].(type) {
	case int64:
		return time.UnixMicro(v)
	case int32:
		return time.UnixMicro(int64(v))
	}
	if !d.Timestamp.IsZero() {
		return d.Timestamp
	}
	return time.Now()
}
