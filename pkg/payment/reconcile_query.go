package payment

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"fundigo/pkg/logging"
)

// queryAwaiting asks Daraja (STK Push Query) about every payment awaiting
// its callback past QueryAfter and not asked since QueryEvery: in a pool of
// Reconcile.QueryConcurrency workers, no faster than Reconcile.QueryRate per
// second, page after page (keyset, so a payment that keeps failing never
// hides the ones after it) until the backlog is done or Reconcile.RunBudget
// is spent; the next run continues. A backlog of N thus takes about
// N/QueryRate seconds instead of N/200 minutes.
func queryAwaiting(ctx context.Context, d Deps, log zerolog.Logger) error {
	rc := d.Config.Reconcile.WithDefaults()
	runCtx, cancel := context.WithTimeout(ctx, rc.RunBudget)
	defer cancel()
	limiter := rate.NewLimiter(rate.Limit(rc.QueryRate), int(math.Max(1, math.Ceil(rc.QueryRate))))
	now := d.now()
	ps := NewStore(d.Pool)

	var (
		wg               sync.WaitGroup
		sem              = make(chan struct{}, rc.QueryConcurrency)
		mu               sync.Mutex // guards errs
		errs             []error
		queried          int
		afterAt          time.Time
		afterID          string
		exhausted        bool
		stoppedForBudget bool
	)
pages:
	for !exhausted {
		page, err := ps.OverdueAwaiting(runCtx, now.Add(-d.Config.QueryAfter), now.Add(-d.Config.QueryEvery), afterAt, afterID, reconcileBatch)
		if err != nil {
			if runCtx.Err() != nil && ctx.Err() == nil {
				stoppedForBudget = true
				break
			}
			wg.Wait()
			return err
		}
		exhausted = len(page) < reconcileBatch
		for _, p := range page {
			if err := limiter.Wait(runCtx); err != nil {
				stoppedForBudget = true
				break pages
			}
			sem <- struct{}{}
			wg.Add(1)
			queried++
			go func(p Payment) {
				defer wg.Done()
				defer func() { <-sem }()
				if err := reconcileOne(runCtx, d, log.With().Str(logging.FieldPaymentID, p.ID).Logger(), p); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}(p)
		}
		if len(page) > 0 {
			last := page[len(page)-1]
			afterAt, afterID = *last.PushedAt, last.ID
		}
	}
	wg.Wait()
	if stoppedForBudget {
		log.Warn().Int("queried", queried).Dur("budget", rc.RunBudget).Msg("reconcile run budget spent with backlog left; next run continues")
	}
	if len(errs) > 0 {
		log.Warn().Err(errors.Join(errs...)).Int("failed", len(errs)).Int("queried", queried).Msg("reconcile incomplete; next run retries")
	}
	return nil
}
