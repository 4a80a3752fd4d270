package live

import (
	"errors"
	"time"
)

// Config shapes the streams and the connections (pkg/config's Stream holds
// the FUNDIGO_STREAM_* values).
type Config struct {
	// Retention is how long an owner's stream is kept after its last event,
	// and how far back a resume id may reach.
	Retention time.Duration
	// MaxLen caps each owner's stream (approximately: XADD MAXLEN ~).
	MaxLen int64
	// SendBuffer is how many messages may wait for one slow connection
	// before it is dropped with ErrSlowConsumer.
	SendBuffer int
	// MaxPerUser and MaxConns cap the subscriptions of one owner and of the
	// whole process.
	MaxPerUser int
	MaxConns   int
	// Heartbeat is the interval of WebSocket pings and SSE comments.
	Heartbeat time.Duration
	// IdleTimeout bounds one write or one ping's pong: a client that does not
	// keep up within it is disconnected.
	IdleTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Retention == 0 {
		c.Retention = 15 * time.Minute
	}
	if c.MaxLen == 0 {
		c.MaxLen = 500
	}
	if c.SendBuffer == 0 {
		c.SendBuffer = 64
	}
	if c.MaxPerUser == 0 {
		c.MaxPerUser = 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 20000
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 25 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Retention < time.Second {
		errs = append(errs, errors.New("retention must be at least 1s"))
	}
	if c.MaxLen < 1 {
		errs = append(errs, errors.New("max len must be at least 1"))
	}
	if c.SendBuffer < 1 || c.MaxPerUser < 1 || c.MaxConns < 1 {
		errs = append(errs, errors.New("send buffer, max per user and max conns must be at least 1"))
	}
	if c.Heartbeat <= 0 || c.IdleTimeout <= 0 {
		errs = append(errs, errors.New("heartbeat and idle timeout must be positive"))
	}
	return errors.Join(errs...)
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}
