package config

import (
	"errors"
	"time"
)

// Reconcile tunes payment reconciliation (pkg/payment, reconcile*.go):
// how long a payment may stay pending, and how fast a run may ask Daraja.
// Zero values take the defaults (tests build config.Payments literally).
type Reconcile struct {
	// PendingDeadline: a payment still pending (its STK push never
	// recorded, e.g. its task archived during a database outage) this long
	// after creation fails as expired.
	PendingDeadline time.Duration `env:"FUNDIGO_PAYMENTS_PENDING_DEADLINE" envDefault:"10m"`
	// QueryConcurrency bounds the STK Push Queries in flight in one run.
	QueryConcurrency int `env:"FUNDIGO_RECONCILE_CONCURRENCY" envDefault:"8"`
	// QueryRate is the most STK Push Queries per second one run sends:
	// Daraja publishes no TPS and answers 500.003.02 (spike arrest) past it.
	QueryRate float64 `env:"FUNDIGO_DARAJA_QUERY_RATE" envDefault:"5"`
	// RunBudget is how long one run keeps working through a backlog before
	// leaving the rest to the next run (the task's own timeout is longer).
	RunBudget time.Duration `env:"FUNDIGO_RECONCILE_RUN_BUDGET" envDefault:"40s"`
}

// WithDefaults returns r with every zero field set to its default.
func (r Reconcile) WithDefaults() Reconcile {
	if r.PendingDeadline <= 0 {
		r.PendingDeadline = 10 * time.Minute
	}
	if r.QueryConcurrency <= 0 {
		r.QueryConcurrency = 8
	}
	if r.QueryRate <= 0 {
		r.QueryRate = 5
	}
	if r.RunBudget <= 0 {
		r.RunBudget = 40 * time.Second
	}
	return r
}

func (r Reconcile) validate() []error {
	var errs []error
	if r.PendingDeadline < 0 || r.RunBudget < 0 || r.QueryConcurrency < 0 || r.QueryRate < 0 {
		errs = append(errs, errors.New("FUNDIGO_PAYMENTS_PENDING_DEADLINE, FUNDIGO_RECONCILE_CONCURRENCY, FUNDIGO_DARAJA_QUERY_RATE and FUNDIGO_RECONCILE_RUN_BUDGET must not be negative"))
	}
	if r.QueryConcurrency > 256 {
		errs = append(errs, errors.New("FUNDIGO_RECONCILE_CONCURRENCY must be at most 256"))
	}
	return errs
}
