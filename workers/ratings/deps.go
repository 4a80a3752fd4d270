package ratings

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"fundigo/pkg/rating"
)

// Deps are the dependencies of the ratings workers: the domain's, plus how
// the review.created consumer is shaped.
type Deps struct {
	Log    zerolog.Logger
	Rating rating.Deps
	// QueuePrefix and DeliveryLimit shape the review.created consumer queue.
	QueuePrefix   string
	DeliveryLimit int
	// Concurrency of the review.created consumer (default 4).
	Concurrency int
	// ProgressInterval is the minimum time between two progress log lines
	// of a full recompute (default 5s; every batch is logged at debug).
	ProgressInterval time.Duration
}

func (d *Deps) setDefaults() {
	if d.Concurrency == 0 {
		d.Concurrency = 4
	}
	if d.ProgressInterval == 0 {
		d.ProgressInterval = 5 * time.Second
	}
}

func (d Deps) validate() error {
	if err := d.Rating.Validate(); err != nil {
		return fmt.Errorf("ratings workers: %w", err)
	}
	return nil
}
