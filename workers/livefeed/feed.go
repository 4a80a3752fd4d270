package livefeed

import (
	"context"
	"errors"
	"fmt"
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
	routes  []route
}

// route names who owns the events whose routing key matches key (a topic
// pattern).
type route struct {
	key    string
	owners ownersFunc
}

// handleBatch appends each event of the batch to each owner's stream, all
// of them in one Redis round trip (live.Streams.AppendBatch). Appends are
// idempotent per (message id, owner), so a redelivery after a partial
// failure sends each owner the event once. An event naming no valid owner
// is acked and skipped: nobody can watch it. Each delivery's result is its
// first failed append: invalid (permanent) or not (retried).
func (f *feeder) handleBatch(ctx context.Context, batch []amqpx.Delivery) []error {
	errs := make([]error, len(batch))
	evs := make([]live.Event, 0, len(batch))
	from := make([]int, 0, len(batch)) // evs[k] is for batch[from[k]]
	for i, d := range batch {
		key := d.Info.RoutingKey
		owners := f.ownersOf(key)
		if owners == nil {
			errs[i] = amqpx.Permanent(fmt.Errorf("no handler for routing key %q", key))
			continue
		}
		us, data, err := owners(d.Body)
		if err != nil {
			errs[i] = amqpx.Permanent(err)
			continue
		}
		at := committedAt(d.Delivery)
		for _, u := range us {
			if !live.ValidOwner(u) {
				zerolog.Ctx(ctx).Debug().Str("routing_key", key).Msg("live event without a valid owner; skipped")
				continue
			}
			evs = append(evs, live.Event{Owner: u, Type: key, MessageID: d.MessageId, At: at, Data: data})
			from = append(from, i)
		}
	}
	if len(evs) == 0 {
		return errs
	}
	for k, r := range f.streams.AppendBatch(ctx, evs) {
		i := from[k]
		switch {
		case r.Err == nil || errs[i] != nil:
		case errors.Is(r.Err, live.ErrInvalidEvent):
			errs[i] = amqpx.Permanent(r.Err)
		default:
			errs[i] = r.Err
		}
	}
	return errs
}

// ownersOf is the owners function of the first route matching key, or nil.
func (f *feeder) ownersOf(key string) ownersFunc {
	for _, r := range f.routes {
		if amqpx.TopicMatch(r.key, key) {
			return r.owners
		}
	}
	return nil
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
