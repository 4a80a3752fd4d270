// Package config is the one place that reads configuration: FUNDIGO_*
// environment variables (through an injected getenv), defaults that reach the
// local PostgreSQL, Redis and RabbitMQ and the built-in simulators, and one
// validation pass that reports every error at once. No other package reads
// the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"fundigo/pkg/redisconn"
)

// Config is the whole configuration, one sub-struct per component.
type Config struct {
	HTTP     HTTP
	Database Database
	Redis    Redis
	AMQP     AMQP
	Auth     Auth
	Log      Log
	Tasks    Tasks

	// ShutdownTimeout bounds the graceful drain of every role.
	ShutdownTimeout time.Duration `env:"FUNDIGO_SHUTDOWN_TIMEOUT" envDefault:"25s"`

	// Domain sub-structs (one line each, defined in their own files).
	Ratings       Ratings
	Scheduler     Scheduler
	Notifications Notifications
	Payments      Payments
	Payouts       Payouts
	Celery        Celery
	Ops           Ops
	Throttle      Throttle
	Stream        Stream
	Tracing       Tracing
	Sentry        Sentry
}

// HTTP configures the API listener.
type HTTP struct {
	Addr string `env:"FUNDIGO_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	// PublicURL is the base URL external services (Daraja) call back to;
	// derived from Addr when empty.
	PublicURL    string        `env:"FUNDIGO_PUBLIC_URL"`
	BodyLimit    string        `env:"FUNDIGO_HTTP_BODY_LIMIT" envDefault:"1M"`
	ReadTimeout  time.Duration `env:"FUNDIGO_HTTP_READ_TIMEOUT" envDefault:"15s"`
	WriteTimeout time.Duration `env:"FUNDIGO_HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	// RequestTimeout is every API request's deadline: its context is
	// cancelled then, and a request stuck on a dependency answers 503.
	RequestTimeout time.Duration `env:"FUNDIGO_HTTP_REQUEST_TIMEOUT" envDefault:"5s"`
	// TrustedProxies (CIDRs or addresses) are the only hops whose
	// X-Forwarded-For is believed; the client IP is the first untrusted hop
	// from the right. Empty: the TCP peer is the client. One rule for the
	// throttles and the webhook source check.
	TrustedProxies []string `env:"FUNDIGO_TRUSTED_PROXIES"`
}

// Database configures PostgreSQL.
type Database struct {
	URL      Secret `env:"FUNDIGO_DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/fundigo?sslmode=disable"`
	MaxConns int32  `env:"FUNDIGO_DATABASE_MAX_CONNS" envDefault:"20"`
	// ConnectTimeout bounds opening one connection.
	ConnectTimeout time.Duration `env:"FUNDIGO_DATABASE_CONNECT_TIMEOUT" envDefault:"2s"`
	// StatementTimeout and LockTimeout are every session's statement_timeout
	// and lock_timeout (0 disables; `fundigo migrate` never sets them).
	StatementTimeout time.Duration `env:"FUNDIGO_DATABASE_STATEMENT_TIMEOUT" envDefault:"30s"`
	LockTimeout      time.Duration `env:"FUNDIGO_DATABASE_LOCK_TIMEOUT" envDefault:"10s"`
}

// Redis configures the Redis client shared by Asynq, the cache and the rate limiter.
type Redis struct {
	URL Secret `env:"FUNDIGO_REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	// KeyPrefix namespaces every cache and rate-limit key.
	KeyPrefix string `env:"FUNDIGO_REDIS_KEY_PREFIX" envDefault:"fundigo:"`
}

// AMQP configures RabbitMQ.
type AMQP struct {
	URL      Secret `env:"FUNDIGO_AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/"`
	Exchange string `env:"FUNDIGO_AMQP_EXCHANGE" envDefault:"fundigo.events"`
	// QueuePrefix namespaces the queues this deployment declares.
	QueuePrefix   string `env:"FUNDIGO_AMQP_QUEUE_PREFIX" envDefault:"fundigo."`
	Prefetch      int    `env:"FUNDIGO_AMQP_PREFETCH" envDefault:"64"`
	DeliveryLimit int    `env:"FUNDIGO_AMQP_DELIVERY_LIMIT" envDefault:"10"`
}

// Auth configures service API keys and user JWTs.
type Auth struct {
	// APIKeys are service keys, `name:secret` pairs separated by commas.
	APIKeys APIKeys `env:"FUNDIGO_API_KEYS"`
	// JWTSecret verifies Django SimpleJWT (HS256) access tokens.
	JWTSecret Secret `env:"FUNDIGO_JWT_SECRET"`
}

// Log configures the root logger.
type Log struct {
	Level  string `env:"FUNDIGO_LOG_LEVEL" envDefault:"info"`
	Format string `env:"FUNDIGO_LOG_FORMAT" envDefault:"json"`
}

// Tasks configures Asynq queues and worker concurrency.
type Tasks struct {
	// QueuePrefix namespaces the Asynq queues (critical, default, low).
	QueuePrefix string `env:"FUNDIGO_TASKS_QUEUE_PREFIX"`
	Concurrency int    `env:"FUNDIGO_WORKER_CONCURRENCY" envDefault:"20"`
}

// Load reads the configuration through getenv, applies defaults and validates
// it; every problem found is returned at once, joined.
func Load(getenv func(string) string) (Config, error) {
	var cfg Config
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return Config{}, fmt.Errorf("list config fields: %w", err)
	}
	vars := make(map[string]string, len(params))
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			vars[p.Key] = v
		}
	}
	var errs []error
	if env.ParseWithOptions(&cfg, env.Options{Environment: vars}) != nil {
		// Only when something is wrong: find the bad values one variable
		// at a time, report them by name and parse the rest without them.
		errs = parseEach(vars)
		cfg = Config{}
		if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
			errs = append(errs, err)
		}
	}
	cfg.setDefaults()
	// A bad value's default stands in for it here, so no error follows
	// from it: every error below is about another variable.
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Keys lists every environment variable the configuration reads, with its
// default, for `fundigo help` and the README table.
func Keys() ([][2]string, error) {
	var cfg Config
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(params))
	for _, p := range params {
		out = append(out, [2]string{p.Key, p.DefaultValue})
	}
	return out, nil
}

func (c *Config) setDefaults() {
	if c.HTTP.PublicURL == "" {
		host, port, err := net.SplitHostPort(c.HTTP.Addr)
		if err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			c.HTTP.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
}

// Validate checks every field and returns all problems joined.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		errs = append(errs, fmt.Errorf("FUNDIGO_HTTP_ADDR %q: %w", c.HTTP.Addr, err))
	}
	if u, err := url.Parse(c.HTTP.PublicURL); (err != nil || u.Scheme == "" || u.Host == "") && c.HTTP.PublicURL != "" {
		errs = append(errs, fmt.Errorf("FUNDIGO_PUBLIC_URL %q: want an absolute http(s) URL", c.HTTP.PublicURL))
	}
	errs = append(errs, checkURL("FUNDIGO_DATABASE_URL", string(c.Database.URL), "postgres", "postgresql")...)
	if strings.HasPrefix(string(c.Redis.URL), redisconn.SentinelScheme+"://") {
		if _, err := redisconn.ParseSentinel(string(c.Redis.URL)); err != nil {
			errs = append(errs, fmt.Errorf("FUNDIGO_REDIS_URL: %w", err))
		}
	} else {
		errs = append(errs, checkURL("FUNDIGO_REDIS_URL", string(c.Redis.URL), "redis", "rediss", redisconn.SentinelScheme)...)
	}
	errs = append(errs, checkURL("FUNDIGO_AMQP_URL", string(c.AMQP.URL), "amqp", "amqps")...)
	if c.Database.MaxConns < 1 {
		errs = append(errs, errors.New("FUNDIGO_DATABASE_MAX_CONNS must be at least 1"))
	}
	if c.Database.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_DATABASE_CONNECT_TIMEOUT must be positive"))
	}
	if c.Database.StatementTimeout < 0 || c.Database.LockTimeout < 0 {
		errs = append(errs, errors.New("FUNDIGO_DATABASE_STATEMENT_TIMEOUT and FUNDIGO_DATABASE_LOCK_TIMEOUT must be 0 (off) or positive"))
	}
	if c.HTTP.RequestTimeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_HTTP_REQUEST_TIMEOUT must be positive"))
	}
	if c.AMQP.Prefetch < 1 {
		errs = append(errs, errors.New("FUNDIGO_AMQP_PREFETCH must be at least 1"))
	}
	if c.AMQP.DeliveryLimit < 1 {
		errs = append(errs, errors.New("FUNDIGO_AMQP_DELIVERY_LIMIT must be at least 1"))
	}
	if c.Tasks.Concurrency < 1 {
		errs = append(errs, errors.New("FUNDIGO_WORKER_CONCURRENCY must be at least 1"))
	}
	switch strings.ToLower(c.Log.Level) {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("FUNDIGO_LOG_LEVEL %q: want trace|debug|info|warn|error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("FUNDIGO_LOG_FORMAT %q: want json|console", c.Log.Format))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("FUNDIGO_SHUTDOWN_TIMEOUT must be positive"))
	}
	if len(c.Auth.JWTSecret) > 0 && len(c.Auth.JWTSecret) < 16 {
		errs = append(errs, errors.New("FUNDIGO_JWT_SECRET must be at least 16 bytes"))
	}
	// Domain validation (one line each).
	errs = append(errs, c.Ratings.validate()...)
	errs = append(errs, c.Scheduler.validate()...)
	errs = append(errs, c.Notifications.validate()...)
	errs = append(errs, c.Payments.validate()...)
	errs = append(errs, c.Payouts.validate()...)
	errs = append(errs, c.Celery.validate()...)
	errs = append(errs, c.Ops.validate()...)
	errs = append(errs, c.Throttle.validate()...)
	errs = append(errs, c.Stream.validate()...)
	errs = append(errs, c.Tracing.validate()...)
	errs = append(errs, c.Sentry.validate()...)
	for _, s := range c.HTTP.TrustedProxies {
		if _, err := ParseCIDROrIP(s); err != nil {
			errs = append(errs, fmt.Errorf("FUNDIGO_TRUSTED_PROXIES: %w", err))
		}
	}
	return errors.Join(errs...)
}

func checkURL(key, raw string, schemes ...string) []error {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error may echo the URL with its password: report the key only.
		return []error{fmt.Errorf("%s: not a valid URL", key)}
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return []error{fmt.Errorf("%s: scheme %q, want %s", key, u.Scheme, strings.Join(schemes, " or "))}
}
