package config

import (
	"errors"
	"time"
)

// Ratings configures the technician ratings domain: the Bayesian prior, the
// debounce of per-technician recomputes, the nightly batch and the read cache.
type Ratings struct {
	// PriorWeight is C in (C·m + Σ ratings) / (C + n): how many "virtual
	// reviews at the global mean" every technician starts with.
	PriorWeight int `env:"FUNDIGO_RATINGS_PRIOR_WEIGHT" envDefault:"10"`
	// Debounce is the window that groups a burst of reviews of one technician
	// into a single recompute, run at the end of the window.
	Debounce time.Duration `env:"FUNDIGO_RATINGS_DEBOUNCE" envDefault:"5s"`
	// BatchSize is how many technicians one keyset batch of the full
	// recompute covers (one statement, one transaction).
	BatchSize int `env:"FUNDIGO_RATINGS_BATCH_SIZE" envDefault:"5000"`
	// Parallelism is how many batches of the full recompute run at once
	// (each on its own connection); the run's cursor still advances in order.
	Parallelism int `env:"FUNDIGO_RATINGS_PARALLELISM" envDefault:"2"`
	// CacheTTL bounds how long a cached GET /v1/technicians/{id}/rating lives
	// even if an invalidation were lost.
	CacheTTL time.Duration `env:"FUNDIGO_RATINGS_CACHE_TTL" envDefault:"10m"`
	// TopCacheTTL is how long the top-technicians lists are cached.
	TopCacheTTL time.Duration `env:"FUNDIGO_RATINGS_TOP_CACHE_TTL" envDefault:"5m"`
	// CacheBudget bounds each call to the rating cache in Redis; past it the
	// read is served from PostgreSQL (and counts as a failure towards the
	// circuit breaker).
	CacheBudget time.Duration `env:"FUNDIGO_RATINGS_CACHE_BUDGET" envDefault:"75ms"`
	// CacheBreakerOpen is how long the cache's circuit breaker stays open
	// (Redis skipped, reads served from PostgreSQL) after consecutive
	// failures, before one probe call is let through.
	CacheBreakerOpen time.Duration `env:"FUNDIGO_RATINGS_CACHE_BREAKER_OPEN" envDefault:"5s"`
}

func (c Ratings) validate() []error {
	var errs []error
	if c.PriorWeight < 0 || c.PriorWeight > 1_000_000 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_PRIOR_WEIGHT must be between 0 and 1000000"))
	}
	if c.Debounce < 0 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_DEBOUNCE must not be negative"))
	}
	if c.BatchSize < 1 || c.BatchSize > 1_000_000 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_BATCH_SIZE must be between 1 and 1000000"))
	}
	if c.Parallelism < 1 || c.Parallelism > 64 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_PARALLELISM must be between 1 and 64"))
	}
	if c.CacheTTL <= 0 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_CACHE_TTL must be positive"))
	}
	if c.TopCacheTTL <= 0 {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_TOP_CACHE_TTL must be positive"))
	}
	if c.CacheBudget < time.Millisecond || c.CacheBudget > 5*time.Second {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_CACHE_BUDGET must be between 1ms and 5s"))
	}
	if c.CacheBreakerOpen < 100*time.Millisecond || c.CacheBreakerOpen > time.Hour {
		errs = append(errs, errors.New("FUNDIGO_RATINGS_CACHE_BREAKER_OPEN must be between 100ms and 1h"))
	}
	return errs
}
