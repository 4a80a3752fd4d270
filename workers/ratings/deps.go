package ratings

import (
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/ratingcache"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// Deps are the dependencies of the ratings workers.
type Deps struct {
	Log   zerolog.Logger
	Pool  *pgxpool.Pool
	Redis redis.Cmdable // rating cache invalidation
	// KeyPrefix namespaces the cache keys (config.Redis.KeyPrefix).
	KeyPrefix string
	Tasks     *asynq.Client // enqueues debounced recomputes
	Queues    tasks.Queues
	Exchange  string // rating.updated goes here; review.created is consumed from here
	// QueuePrefix and DeliveryLimit shape the review.created consumer queue.
	QueuePrefix   string
	DeliveryLimit int
	Config        config.Ratings
	// Concurrency of the review.created consumer (default 4).
	Concurrency int
	Now         func() time.Time
	// ProgressInterval is the minimum time between two progress log lines
	// of a full recompute (default 5s; every batch is logged at debug).
	ProgressInterval time.Duration
	// AfterBatchFunc, when set, is called after each committed batch of a
	// full recompute (tests use it to interrupt a run between batches).
	AfterBatchFunc func(Progress)
}

func (d *Deps) setDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Concurrency == 0 {
		d.Concurrency = 4
	}
	if d.ProgressInterval == 0 {
		d.ProgressInterval = 5 * time.Second
	}
}

func (d Deps) validate() error {
	var errs []error
	if d.Pool == nil {
		errs = append(errs, errors.New("ratings workers: pool is nil"))
	}
	if d.Redis == nil {
		errs = append(errs, errors.New("ratings workers: redis is nil"))
	}
	if d.Tasks == nil {
		errs = append(errs, errors.New("ratings workers: asynq client is nil"))
	}
	if d.Exchange == "" {
		errs = append(errs, errors.New("ratings workers: exchange is empty"))
	}
	if d.Config.BatchSize < 1 {
		errs = append(errs, errors.New("ratings workers: batch size must be at least 1"))
	}
	return errors.Join(errs...)
}

func (d Deps) ratings() *store.Ratings { return store.NewRatings(d.Pool, d.Exchange) }

func (d Deps) cache() *ratingcache.Cache {
	return ratingcache.New(d.Redis, d.KeyPrefix, d.Config.CacheTTL, d.Config.TopCacheTTL)
}
