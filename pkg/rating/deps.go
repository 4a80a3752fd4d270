package rating

import (
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/config"
	"fundigo/pkg/tasks"
)

// Deps are what the ratings commands need. Build one per process and share
// it: the Cache carries state.
type Deps struct {
	Pool  *pgxpool.Pool
	Cache *Cache
	// Tasks enqueues the debounced per-technician recomputes (on
	// Queues.Default) and the full recomputes (on Queues.Low).
	Tasks  *asynq.Client
	Queues tasks.Queues
	Config config.Ratings
	// GrantKey verifies the review grants users present (the JWT signing
	// key, FUNDIGO_JWT_SECRET); empty refuses every user review.
	GrantKey []byte
	// NowFunc is the clock of the debounce windows and progress rates
	// (default time.Now).
	NowFunc func() time.Time
	// AfterBatchFunc, when set, is called after each committed batch of a
	// full recompute (tests use it to interrupt a run between batches).
	AfterBatchFunc func(Progress)
}

// Validate reports every missing dependency at once.
func (d Deps) Validate() error {
	var errs []error
	if d.Pool == nil {
		errs = append(errs, errors.New("rating: pool is nil"))
	}
	if d.Cache == nil {
		errs = append(errs, errors.New("rating: cache is nil"))
	}
	if d.Tasks == nil {
		errs = append(errs, errors.New("rating: asynq client is nil"))
	}
	if d.Config.BatchSize < 1 {
		errs = append(errs, errors.New("rating: batch size must be at least 1"))
	}
	return errors.Join(errs...)
}

// Now reads the clock: NowFunc, or time.Now when unset.
func (d Deps) Now() time.Time {
	if d.NowFunc == nil {
		return time.Now()
	}
	return d.NowFunc()
}

// Store returns the ratings SQL over the pool.
func (d Deps) Store() *Store { return NewStore(d.Pool) }
