package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/tracing"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Exchange is where every row is published (FUNDIGO_AMQP_EXCHANGE,
	// default events.Exchange); required. It is set here, once, rather than
	// on each message: an event knows only its routing key and id.
	Exchange string
	// Name identifies the relay in logs and as the application_name of its
	// LISTEN connection. Default "outbox-relay".
	Name string
	// BatchSize is the number of rows claimed, published and marked per
	// transaction. Default 100.
	BatchSize int
	// PollInterval is the fallback scan interval when no NOTIFY arrives (lost
	// listener, notifications from another database). Default 1s.
	PollInterval time.Duration
	// PublishTimeout bounds the confirms of one batch; rows unconfirmed by then
	// stay pending. Default 10s.
	PublishTimeout time.Duration
	// RetryDelay and MaxRetryDelay bound the per-row backoff after a failed
	// publish (doubling per attempt), so a row that keeps failing does not
	// starve the others. Defaults 1s and 30s.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
}

func (c *RelayConfig) setDefaults() {
	if c.Name == "" {
		c.Name = "outbox-relay"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = time.Second
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = 30 * time.Second
	}
}

// Validate reports every invalid field at once.
func (c RelayConfig) Validate() error {
	var errs []error
	if c.Exchange == "" {
		errs = append(errs, errors.New("exchange is empty"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("batch size must not be negative"))
	}
	if c.PollInterval < 0 || c.PublishTimeout < 0 || c.RetryDelay < 0 || c.MaxRetryDelay < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}

// Relay publishes committed outbox rows with publisher confirms and marks them
// published. It is woken by LISTEN/NOTIFY on a dedicated connection and polls
// as a fallback. Run and Flush may be called concurrently, and many Relays
// may share a table.
type Relay struct {
	pool *pgxpool.Pool
	pub  *amqpx.Publisher
	log  zerolog.Logger
	cfg  RelayConfig
}

// NewRelay returns a Relay over pool's outbox table publishing with pub.
func NewRelay(pool *pgxpool.Pool, pub *amqpx.Publisher, log zerolog.Logger, cfg RelayConfig) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("outbox relay config: %w", err)
	}
	if pool == nil || pub == nil {
		return nil, errors.New("outbox relay: nil pool or publisher")
	}
	return &Relay{
		pool: pool,
		pub:  pub,
		log:  log.With().Str("component", "outbox_relay").Str("relay", cfg.Name).Logger(),
		cfg:  cfg,
	}, nil
}

// Run relays until ctx ends. A batch already claimed when ctx ends is still
// published and marked (bounded by PublishTimeout), then Run returns nil.
// Errors (database or broker down) are logged and retried, never returned:
// Run only stops with its ctx. Call Flush afterwards to drain what is left.
func (r *Relay) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	listenerDone := make(chan struct{})
	go func() {
		defer close(listenerDone)
		r.listen(ctx, wake)
	}()
	defer func() { <-listenerDone }()

	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	for {
		n, err := r.relayBatch(ctx, false)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil:
			r.log.Warn().Err(err).Int("claimed", n).Msg("outbox relay batch failed")
			select { // back off to the poll interval; wake-ups would spin
			case <-poll.C:
			case <-ctx.Done():
				return nil
			}
			continue
		case n == r.cfg.BatchSize:
			continue // probably more pending
		}
		select {
		case <-wake:
		case <-poll.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// Flush publishes everything pending, including rows waiting out a retry
// backoff, until no claimable row is left. It returns the first publish or
// database error, leaving the failed rows pending. Rows another relay holds
// are skipped: that relay publishes them. cmd calls it at shutdown after the
// producers stopped.
func (r *Relay) Flush(ctx context.Context) error {
	for {
		n, err := r.relayBatch(ctx, true)
		if err != nil {
			return fmt.Errorf("flush outbox: %w", err)
		}
		if n < r.cfg.BatchSize {
			return nil
		}
	}
}

// row is a claimed outbox row.
type row struct {
	id          int64
	messageID   string
	routingKey  string
	messageType string
	contentType string
	headers     map[string]string
	payload     []byte
	createdAt   time.Time
}

// relayBatch claims up to BatchSize pending rows, publishes them concurrently
// and, in the same transaction, marks the confirmed ones published and the
// others failed. It returns the number of rows claimed; the error reports
// failed publishes (whose rows stay pending) or a database failure.
func (r *Relay) relayBatch(ctx context.Context, ignoreBackoff bool) (int, error) {
	// Do not claim rows while the broker is unreachable: that would only
	// count failed attempts against every row.
	if err := r.pub.Ready(ctx); err != nil {
		return 0, fmt.Errorf("wait for broker: %w", err)
	}
	// Once claimed, a batch is finished even if ctx ends: abandoning it after
	// publishing would only cause duplicates.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.PublishTimeout+30*time.Second)
	defer cancel()

	tx, err := r.pool.Begin(bctx)
	if err != nil {
		return 0, fmt.Errorf("begin outbox batch: %w", err)
	}
	defer tx.Rollback(bctx) //nolint:errcheck // no-op after Commit

	rows, err := claim(bctx, tx, r.cfg.BatchSize, ignoreBackoff)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, tx.Commit(bctx)
	}

	msgs := make([]amqpx.Message, len(rows))
	spans := make([]trace.Span, len(rows))
	for i, rw := range rows {
		msgs[i] = rw.message(r.cfg.Exchange)
		spans[i] = publishSpan(rw, msgs[i].Publishing.Headers)
	}
	pctx, pcancel := context.WithTimeout(bctx, r.cfg.PublishTimeout)
	errs := r.pub.PublishBatch(pctx, msgs)
	pcancel()
	for i, sp := range spans {
		if sp == nil {
			continue
		}
		if errs[i] != nil {
			sp.RecordError(errs[i])
			sp.SetStatus(codes.Error, "publish failed")
		}
		sp.End()
	}

	var (
		published  []int64
		failed     []int64
		failedErrs []string
		firstErr   error
	)
	for i, err := range errs {
		if err == nil {
			published = append(published, rows[i].id)
			continue
		}
		failed = append(failed, rows[i].id)
		failedErrs = append(failedErrs, err.Error())
		if firstErr == nil {
			firstErr = fmt.Errorf("publish outbox message %s: %w", rows[i].messageID, err)
		}
	}
	if err := r.mark(bctx, tx, published, failed, failedErrs); err != nil {
		return len(rows), err
	}
	if err := tx.Commit(bctx); err != nil {
		// The broker has the published messages; they will be sent again
		// (at-least-once) because the rows are still pending.
		return len(rows), fmt.Errorf("commit outbox batch: %w", err)
	}
	r.log.Debug().Int("published", len(published)).Int("failed", len(failed)).Msg("outbox batch relayed")
	if firstErr != nil {
		return len(rows), fmt.Errorf("%d of %d messages not published: %w", len(failed), len(rows), firstErr)
	}
	return len(rows), nil
}

func claim(ctx context.Context, tx pgx.Tx, limit int, ignoreBackoff bool) ([]row, error) {
	q, err := tx.Query(ctx, `
		SELECT id, message_id, routing_key, message_type, content_type, headers, payload, created_at
		FROM outbox
		WHERE published_at IS NULL AND ($2 OR available_at <= now())
		ORDER BY id
		LIMIT $1
		FOR UPDATE SKIP LOCKED`, limit, ignoreBackoff)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	rows, err := pgx.CollectRows(q, func(s pgx.CollectableRow) (row, error) {
		var rw row
		var headers []byte
		err := s.Scan(&rw.id, &rw.messageID, &rw.routingKey, &rw.messageType,
			&rw.contentType, &headers, &rw.payload, &rw.createdAt)
		if err == nil {
			err = json.Unmarshal(headers, &rw.headers)
		}
		return rw, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	return rows, nil
}

// mark records the outcome of a batch in its transaction.
func (r *Relay) mark(ctx context.Context, tx pgx.Tx, published, failed []int64, failedErrs []string) error {
	if len(published) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, published); err != nil {
			return fmt.Errorf("mark outbox rows published: %w", err)
		}
	}
	if len(failed) > 0 {
		_, err := tx.Exec(ctx, `
			UPDATE outbox AS o
			SET attempts = o.attempts + 1,
			    last_error = f.err,
			    available_at = now() + make_interval(secs => least($3 * power(2, least(o.attempts, 20)), $4))
			FROM unnest($1::bigint[], $2::text[]) AS f(id, err)
			WHERE o.id = f.id`,
			failed, failedErrs, r.cfg.RetryDelay.Seconds(), r.cfg.MaxRetryDelay.Seconds())
		if err != nil {
			return fmt.Errorf("mark outbox rows failed: %w", err)
		}
	}
	return nil
}

// publishSpan starts the producer span of a row written in a trace (its
// headers carry a traceparent, see WriteBatch) and points the message's
// trace headers at it, so consumers continue the trace under the publish.
// Rows written outside any trace get no span (nil), nor does any row with
// tracing off (tracing.On): its headers already carry its trace context.
func publishSpan(rw row, headers amqp.Table) trace.Span {
	if !tracing.On() || !tracing.HasContext(rw.headers) {
		return nil
	}
	ctx, span := tracing.Tracer().Start(tracing.Extract(context.Background(), rw.headers), "publish "+rw.routingKey,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.rabbitmq.destination.routing_key", rw.routingKey),
			attribute.String("messaging.message.id", rw.messageID)))
	for k, v := range tracing.Headers(ctx) {
		headers[k] = v
	}
	return span
}

// HeaderCreatedAt is the AMQP header carrying the outbox row's created_at
// (the writing transaction's time) in Unix microseconds: the event's commit
// time to within the transaction's duration, finer than the Timestamp
// property's whole seconds.
const HeaderCreatedAt = "x-fundigo-created-at"

// message is the AMQP form of rw, published to exchange. MessageId is the
// row's message_id, so consumers can dedupe a re-published row.
func (rw row) message(exchange string) amqpx.Message {
	headers := make(amqp.Table, len(rw.headers)+1)
	for k, v := range rw.headers {
		headers[k] = v
	}
	// Timestamp has whole seconds on the wire; live updates measure their
	// delivery latency from the row's time in microseconds.
	headers[HeaderCreatedAt] = rw.createdAt.UnixMicro()
	return amqpx.Message{
		Exchange:   exchange,
		RoutingKey: rw.routingKey,
		Publishing: amqp.Publishing{
			MessageId:    rw.messageID,
			Type:         rw.messageType,
			ContentType:  rw.contentType,
			Timestamp:    rw.createdAt,
			DeliveryMode: amqp.Persistent,
			Headers:      headers,
			Body:         rw.payload,
		},
	}
}
