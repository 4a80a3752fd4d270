package config

import (
	"errors"
	"time"
)

// Stream configures live updates (GET /v1/stream, GET /v1/events and the
// worker that feeds them; pkg/live).
type Stream struct {
	// Retention is how long a user's event stream is kept after its last
	// event, and so how far back a reconnecting client can resume.
	Retention time.Duration `env:"FUNDIGO_STREAM_RETENTION" envDefault:"15m"`
	// MaxLen caps each user's stream (approximately).
	MaxLen int64 `env:"FUNDIGO_STREAM_MAXLEN" envDefault:"500"`
	// SendBuffer is how many messages may wait for one connection; a client
	// that falls further behind is disconnected (slow consumer).
	SendBuffer int `env:"FUNDIGO_STREAM_SEND_BUFFER" envDefault:"64"`
	// MaxPerUser and MaxConns cap live connections per user and per API
	// process.
	MaxPerUser int `env:"FUNDIGO_STREAM_MAX_PER_USER" envDefault:"10"`
	MaxConns   int `env:"FUNDIGO_STREAM_MAX_CONNS" envDefault:"20000"`
	// Heartbeat is the interval of WebSocket pings and SSE comments.
	Heartbeat time.Duration `env:"FUNDIGO_STREAM_HEARTBEAT" envDefault:"25s"`
	// IdleTimeout bounds one write or ping: a client that does not answer
	// within it is disconnected.
	IdleTimeout time.Duration `env:"FUNDIGO_STREAM_IDLE_TIMEOUT" envDefault:"60s"`
	// Concurrency is the number of handlers of the worker's live consumer;
	// each appends the events waiting for it (up to 100) in one Redis round
	// trip, so few handlers make bigger batches.
	Concurrency int `env:"FUNDIGO_STREAM_CONCURRENCY" envDefault:"2"`
}

func (c Stream) validate() []error {
	var errs []error
	if c.Retention < time.Second || c.Retention > 7*24*time.Hour {
		errs = append(errs, errors.New("FUNDIGO_STREAM_RETENTION must be between 1s and 168h"))
	}
	if c.MaxLen < 1 || c.MaxLen > 100_000 {
		errs = append(errs, errors.New("FUNDIGO_STREAM_MAXLEN must be between 1 and 100000"))
	}
	if c.SendBuffer < 1 || c.SendBuffer > 10_000 {
		errs = append(errs, errors.New("FUNDIGO_STREAM_SEND_BUFFER must be between 1 and 10000"))
	}
	if c.MaxPerUser < 1 || c.MaxConns < 1 {
		errs = append(errs, errors.New("FUNDIGO_STREAM_MAX_PER_USER and FUNDIGO_STREAM_MAX_CONNS must be at least 1"))
	}
	if c.Heartbeat < 100*time.Millisecond || c.IdleTimeout < 100*time.Millisecond {
		errs = append(errs, errors.New("FUNDIGO_STREAM_HEARTBEAT and FUNDIGO_STREAM_IDLE_TIMEOUT must be at least 100ms"))
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, errors.New("FUNDIGO_STREAM_CONCURRENCY must be between 1 and 256"))
	}
	return errs
}
