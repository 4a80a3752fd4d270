package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/mpesa"
	"fundigo/pkg/outcome"
	"fundigo/pkg/store"
)

// NotifyChannel is the PostgreSQL channel the intake notifies when it
// stores STK callbacks; appliers LISTEN on it.
const NotifyChannel = "fundigo_stk_callbacks"

// ApplierConfig sizes the applier (FUNDIGO_PAYMENTS_APPLY_*).
type ApplierConfig struct {
	// BatchSize is how many stored callbacks one transaction applies
	// (default 500).
	BatchSize int
	// Workers is how many batches run at once (default 2).
	Workers int
	// PollInterval is the fallback when no notification comes (default 1s).
	PollInterval time.Duration
	// MaxAttempts: a row failing this many times is marked stuck (default 10).
	MaxAttempts int
}

func (c *ApplierConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
}

// Applier applies stored STK callbacks straight from the inbox: each worker
// claims a batch of unapplied rows (FOR UPDATE SKIP LOCKED, so any number
// of replicas share the work) and applies it in one transaction
// (applyClaimed). Workers wake on NOTIFY from the intake and poll as a
// fallback. A batch that fails is split in halves and retried until the
// failing row is alone; that row gets attempts, last_error and a backoff, and
// is stuck after MaxAttempts (or at once for a deterministic error), so later
// rows are always reached. A row is applied at most once: its applied mark
// and its effects commit together.
type Applier struct {
	d   Deps
	cfg ApplierConfig
}

// NewApplier returns an applier over d.
func NewApplier(d Deps, cfg ApplierConfig) (*Applier, error) {
	cfg.setDefaults()
	if err := d.Validate(false); err != nil {
		return nil, err
	}
	return &Applier{d: d, cfg: cfg}, nil
}

// Run applies callbacks until ctx is cancelled; it returns after the
// in-flight batches finished.
func (a *Applier) Run(ctx context.Context) error {
	wake := make(chan struct{}, a.cfg.Workers)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { a.listen(ctx, wake); return nil })
	for range a.cfg.Workers {
		g.Go(func() error {
			t := time.NewTicker(a.cfg.PollInterval)
			defer t.Stop()
			for {
				n, err := a.ApplyBatch(ctx)
				if err != nil && ctx.Err() == nil {
					a.d.Log.Warn().Err(err).Msg("stk callback batch failed; retrying")
				}
				if n > 0 && err == nil {
					continue // there may be more
				}
				select {
				case <-ctx.Done():
					return nil
				case <-wake:
				case <-t.C:
				}
			}
		})
	}
	return g.Wait()
}

// listen forwards NOTIFYs to the workers; while it cannot listen, polling
// carries on alone.
func (a *Applier) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		err := func() error {
			conn, err := a.d.Pool.Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
				return err
			}
			defer func() {
				_, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+NotifyChannel)
			}()
			for {
				if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
					return err
				}
				for range cap(wake) {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
		}()
		if ctx.Err() != nil {
			return
		}
		a.d.Log.Warn().Err(err).Msg("stk callback listener lost; polling until it is back")
		select {
		case <-ctx.Done():
		case <-time.After(a.cfg.PollInterval):
		}
	}
}

// ApplyBatch claims and applies one batch; it returns how many rows it
// took (applied, or marked failed after isolation).
func (a *Applier) ApplyBatch(ctx context.Context) (int, error) {
	var ids []int64
	err := store.WithTx(ctx, a.d.Pool, func(tx pgx.Tx) error {
		rows, err := claimNext(ctx, tx, a.cfg.BatchSize)
		if err != nil || len(rows) == 0 {
			return err
		}
		ids = make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.id
		}
		return applyClaimed(ctx, a.d, tx, rows)
	})
	if err == nil || len(ids) == 0 || ctx.Err() != nil {
		return len(ids), err
	}
	return len(ids), a.isolate(ctx, ids, err)
}

// isolate retries ids in halves after their batch failed with err, until a
// failing row is alone, then records its failure.
func (a *Applier) isolate(ctx context.Context, ids []int64, err error) error {
	if len(ids) == 1 {
		return a.recordFailure(ctx, ids[0], err)
	}
	mid := len(ids) / 2
	var errs []error
	for _, half := range [][]int64{ids[:mid], ids[mid:]} {
		herr := store.WithTx(ctx, a.d.Pool, func(tx pgx.Tx) error {
			rows, err := claimIDs(ctx, tx, half)
			if err != nil || len(rows) == 0 {
				return err
			}
			return applyClaimed(ctx, a.d, tx, rows)
		})
		if herr != nil && ctx.Err() == nil {
			errs = append(errs, a.isolate(ctx, half, herr))
		}
	}
	return errors.Join(errs...)
}

// recordFailure gives row id its attempt: last_error, a backoff before the
// next claim, and the stuck state after MaxAttempts or for an error that
// would recur (SQLSTATE class 22/23, an unreadable body).
func (a *Applier) recordFailure(ctx context.Context, id int64, cause error) error {
	permanent := (outcome.DeterministicSQL(cause) && !errLedgerRace(cause)) || errors.Is(cause, mpesa.ErrInvalidCallback)
	var attempts int
	var stuck bool
	err := a.d.Pool.QueryRow(context.WithoutCancel(ctx), `UPDATE inbox SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = now() + least(interval '1 second' * power(2, attempts), interval '5 minutes'),
			stuck_at = CASE WHEN $3 OR attempts + 1 >= $4 THEN now() END
		WHERE id = $1 AND applied_at IS NULL
		RETURNING attempts, stuck_at IS NOT NULL`, id, truncate(cause.Error()), permanent, a.cfg.MaxAttempts).Scan(&attempts, &stuck)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // applied meanwhile by another replica
	}
	if err != nil {
		return fmt.Errorf("record failure of stk callback %d: %w", id, err)
	}
	ev := a.d.Log.Warn()
	if stuck {
		ev = a.d.Log.Error()
	}
	ev.Err(cause).Int64("inbox_id", id).Int("attempts", attempts).Bool("stuck", stuck).Msg("stk callback not applied")
	return nil
}
