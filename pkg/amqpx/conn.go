package amqpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
)

// ConnConfig configures a Conn.
type ConnConfig struct {
	// URL is the broker URL (amqp://user:pass@host:port/vhost). It carries a
	// password and is never logged.
	URL string
	// Name is shown as connection_name in the broker's management tools.
	Name string
	// DialTimeout bounds one TCP + AMQP handshake. Default 5s.
	DialTimeout time.Duration
	// Heartbeat detects dead peers. Default 10s.
	Heartbeat time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the exponential backoff
	// between reconnect attempts. Defaults 100ms and 5s.
	MinReconnectDelay time.Duration
	MaxReconnectDelay time.Duration

	// dial replaces the TCP dialer in tests that cut the socket (export_test.go).
	dial func(network, addr string) (net.Conn, error)
}

func (c *ConnConfig) setDefaults() {
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.MinReconnectDelay == 0 {
		c.MinReconnectDelay = 100 * time.Millisecond
	}
	if c.MaxReconnectDelay == 0 {
		c.MaxReconnectDelay = 5 * time.Second
	}
}

// Validate reports every invalid field at once.
func (c ConnConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("amqp url is empty"))
	} else if _, err := amqp.ParseURI(c.URL); err != nil {
		errs = append(errs, errors.New("amqp url is malformed")) // err may echo the password
	}
	if c.MinReconnectDelay > c.MaxReconnectDelay {
		errs = append(errs, errors.New("min reconnect delay exceeds max reconnect delay"))
	}
	return errors.Join(errs...)
}

// Conn is a self-healing AMQP connection. A supervisor goroutine watches the
// current connection and, when it closes for any reason other than Close,
// dials again with backoff and re-declares every Topology given to Declare
// before handing the new connection out. Publishers and consumers never keep
// the connection: they ask for a channel with Channel and ask again when that
// channel dies. Safe for concurrent use.
type Conn struct {
	cfg ConnConfig
	log zerolog.Logger

	// mu guards the fields below. The supervisor goroutine is the only writer
	// of conn/ready apart from markLost, which any caller may use to report a
	// connection it saw die.
	mu       sync.Mutex
	conn     *amqp.Connection // nil while disconnected
	ready    chan struct{}    // closed while conn != nil; replaced when lost
	topology Topology         // everything declared so far, replayed on reconnect
	closed   bool
	lastErr  error // why the last connect attempt failed, for WaitReady's error

	stop chan struct{} // closed by Close; tells the supervisor to exit
	done chan struct{} // closed when the supervisor has exited
}

// NewConn validates cfg and starts connecting in the background. It returns at
// once; Channel, Declare and WaitReady block until the first connection is up.
func NewConn(log zerolog.Logger, cfg ConnConfig) (*Conn, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("amqp config: %w", err)
	}
	c := &Conn{
		cfg:   cfg,
		log:   log.With().Str("component", "amqp").Logger(),
		ready: make(chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go c.supervise()
	return c, nil
}

// Dial is NewConn followed by WaitReady: it returns once the broker accepted
// the connection, or ctx's error (closing the Conn) if it did not in time.
func Dial(ctx context.Context, log zerolog.Logger, cfg ConnConfig) (*Conn, error) {
	c, err := NewConn(log, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.WaitReady(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = c.Close(closeCtx)
		return nil, fmt.Errorf("dial amqp: %w", err)
	}
	return c, nil
}

// WaitReady blocks until the Conn is connected (with its topology declared),
// ctx ends, or the Conn is closed.
func (c *Conn) WaitReady(ctx context.Context) error {
	_, err := c.current(ctx)
	return err
}

// current returns the live connection, waiting for one if necessary.
func (c *Conn) current(ctx context.Context) (*amqp.Connection, error) {
	for {
		c.mu.Lock()
		conn, ready, closed := c.conn, c.ready, c.closed
		c.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if conn != nil && !conn.IsClosed() {
			return conn, nil
		}
		if conn != nil {
			c.markLost(conn)
			continue
		}
		select {
		case <-ready:
		case <-c.stop:
			return nil, ErrClosed
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return nil, fmt.Errorf("%w (last connect error: %w)", ctx.Err(), last)
			}
			return nil, ctx.Err()
		}
	}
}

// Channel opens a new channel on the current connection, waiting (bounded by
// ctx) while the Conn reconnects. The caller owns the channel and must close
// it; when the connection drops the channel dies with it and the caller asks
// for a new one.
func (c *Conn) Channel(ctx context.Context) (*amqp.Channel, error) {
	for {
		conn, err := c.current(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := conn.Channel()
		if err == nil {
			return ch, nil
		}
		if !conn.IsClosed() {
			return nil, fmt.Errorf("open amqp channel: %w", err)
		}
		c.markLost(conn)
	}
}

// Declare declares t now (waiting for a connection, bounded by ctx) and
// remembers it, so it is declared again after every reconnect. Declaring the
// same objects twice is harmless; declaring an existing queue with different
// arguments fails with the broker's PRECONDITION_FAILED and t is not kept.
func (c *Conn) Declare(ctx context.Context, t Topology) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("declare topology: %w", err)
	}
	for {
		conn, err := c.current(ctx)
		if err != nil {
			return fmt.Errorf("declare topology: %w", err)
		}
		err = declareOn(conn, t)
		if err == nil {
			c.mu.Lock()
			c.topology.merge(t)
			c.mu.Unlock()
			return nil
		}
		if isRefusal(err) {
			return err
		}
		// The connection (or just the channel) died under us: declare again,
		// on the next connection if this one is gone.
		if conn.IsClosed() {
			c.markLost(conn)
			continue
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("declare topology: %w (last error: %w)", ctx.Err(), err)
		}
	}
}

// isRefusal reports whether err is the broker refusing a request on a
// channel (PRECONDITION_FAILED, NOT_FOUND, ACCESS_REFUSED…): retrying the same
// request cannot help. Connection losses are not refusals.
func isRefusal(err error) bool {
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && amqpErr.Server && amqpErr.Recover
}

// Ping reports whether the broker answers right now: it opens and closes a
// channel on the current connection without waiting for a reconnect. It backs
// the rabbitmq check of /readyz.
func (c *Conn) Ping(ctx context.Context) error {
	c.mu.Lock()
	conn, closed := c.conn, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if conn == nil || conn.IsClosed() {
		return ErrNotConnected
	}
	done := make(chan error, 1)
	go func() {
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ping amqp: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ping amqp: %w", ctx.Err())
	}
}

// Close stops reconnecting and closes the connection gracefully (AMQP
// connection.close, which flushes what was written). Close publishers and stop
// consumers first so their in-flight work drains; after Close every method
// returns ErrClosed. Close waits for the supervisor goroutine, bounded by ctx.
func (c *Conn) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("close amqp connection: %w", ctx.Err())
	}
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		return nil
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	if err := conn.CloseDeadline(deadline); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("close amqp connection: %w", err)
	}
	return nil
}

// markLost forgets conn if it is still the current connection, so waiters
// block until the supervisor has a new one. Idempotent.
func (c *Conn) markLost(conn *amqp.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
		c.ready = make(chan struct{})
	}
}

// supervise owns the connect → watch → reconnect loop. It is the only
// goroutine that dials. It exits when Close is called.
func (c *Conn) supervise() {
	defer close(c.done)
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     c.cfg.MinReconnectDelay,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         c.cfg.MaxReconnectDelay,
	}
	bo.Reset()
	connected, failures := false, 0
	for {
		conn, closes, err := c.connect()
		if errors.Is(err, ErrClosed) {
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if err != nil {
			failures++
			delay := bo.NextBackOff()
			c.log.Warn().Err(err).Int("attempt", failures).Dur("retry_in", delay).Msg("amqp connect failed")
			select {
			case <-time.After(delay):
				continue
			case <-c.stop:
				return
			}
		}
		if connected {
			c.log.Info().Int("failed_attempts", failures).Msg("amqp reconnected")
		} else {
			c.log.Debug().Msg("amqp connected")
		}
		connected, failures = true, 0
		bo.Reset()
		select {
		case amqpErr := <-closes:
			c.markLost(conn)
			ev := c.log.Warn()
			if amqpErr != nil {
				ev = ev.Int("reply_code", amqpErr.Code).Str("reason", amqpErr.Reason)
			}
			ev.Msg("amqp connection lost; reconnecting")
		case <-c.stop:
			return // Close closes the connection
		}
	}
}

// connect dials once, declares the remembered topology and publishes the
// connection to waiters. It returns ErrClosed if Close won the race.
func (c *Conn) connect() (*amqp.Connection, <-chan *amqp.Error, error) {
	props := amqp.NewConnectionProperties()
	if c.cfg.Name != "" {
		props.SetClientConnectionName(c.cfg.Name)
	}
	dial := c.cfg.dial
	if dial == nil {
		dial = amqp.DefaultDial(c.cfg.DialTimeout)
	}
	conn, err := amqp.DialConfig(c.cfg.URL, amqp.Config{
		Heartbeat:  c.cfg.Heartbeat,
		Locale:     "en_US",
		Properties: props,
		Dial:       dial,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dial amqp: %w", err)
	}
	closes := conn.NotifyClose(make(chan *amqp.Error, 1))

	c.mu.Lock()
	topo := c.topology.clone()
	c.mu.Unlock()
	if err := declareOn(conn, topo); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.Close()
		return nil, nil, ErrClosed
	}
	c.conn = conn
	close(c.ready)
	return conn, closes, nil
}

// declareOn declares t on a short-lived channel of conn.
func declareOn(conn *amqp.Connection, t Topology) error {
	if len(t.Exchanges) == 0 && len(t.Queues) == 0 {
		return nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open amqp channel: %w", err)
	}
	defer ch.Close() //nolint:errcheck // a failed declare already closed it
	return declare(ch, t)
}
