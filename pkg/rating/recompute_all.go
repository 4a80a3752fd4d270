package rating

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Progress of a full recompute: the task result (GET /v1/tasks/{id}), the
// progress log lines and the CLI's progress bar. Counts cover the whole run,
// including batches finished before a resume; RatePerSec covers this attempt.
// ChangedTechnicians counts the changes the run's batches wrote; a batch
// redone after a crash finds its changes already written and counts none.
type Progress struct {
	RunID                string  `json:"run_id,omitempty"`
	Status               string  `json:"status"` // running | finished | busy
	Resumed              bool    `json:"resumed"`
	GlobalMean           string  `json:"global_mean,omitempty"`
	PriorWeight          int     `json:"prior_weight"`
	TotalReviews         int64   `json:"total_reviews"`
	ProcessedReviews     int64   `json:"processed_reviews"`
	ProcessedTechnicians int64   `json:"processed_technicians"`
	ChangedTechnicians   int64   `json:"changed_technicians"`
	Batches              int     `json:"batches"`
	Percent              float64 `json:"percent"`
	RatePerSec           float64 `json:"reviews_per_sec"`
	ElapsedMS            int64   `json:"elapsed_ms"`
}

// Progress statuses.
const (
	StatusRunning  = "running"
	StatusFinished = "finished"
	// StatusBusy: another process holds the recompute lock; this call did
	// nothing (the other run covers the request).
	StatusBusy = "busy"
)

func progressOf(run RecomputeRun, resumed bool, status string, start time.Time, reviewsAtStart int64, now time.Time) Progress {
	p := Progress{
		RunID: run.ID, Status: status, Resumed: resumed, GlobalMean: run.Params.GlobalMean,
		PriorWeight: run.Params.PriorWeight, TotalReviews: run.TotalReviews,
		ProcessedReviews: run.ProcessedReviews, ProcessedTechnicians: run.ProcessedTechnicians,
		ChangedTechnicians: run.ChangedTechnicians, Batches: run.Batches,
		ElapsedMS: now.Sub(start).Milliseconds(),
	}
	switch {
	case status == StatusFinished:
		p.Percent = 100
	case run.TotalReviews > 0:
		// Reviews written during the run can push the count past the total.
		p.Percent = min(99.99, 100*float64(run.ProcessedReviews)/float64(run.TotalReviews))
	}
	if s := now.Sub(start).Seconds(); s > 0 {
		p.RatePerSec = float64(run.ProcessedReviews-reviewsAtStart) / s
	}
	return p
}

// RecomputeAll runs (or resumes) the full recompute to the end: it takes the
// recompute lock, refreshes the global mean when starting a new run, then
// recomputes keyset batches of Config.BatchSize technicians, up to
// Config.Parallelism at once, each one statement in its own transaction
// (aggregate, upsert, outbox rows for changed technicians). The run's cursor
// advances over committed batches in key order, so it always marks a
// contiguous prefix. report (may be nil) is called at the start and after
// every advance. If ctx ends or a batch fails, the error is returned and the
// run stays resumable from its cursor (a batch that committed beyond it is
// redone, idempotently). If another process holds the lock, it returns
// Status "busy" at once.
func RecomputeAll(ctx context.Context, d Deps, taskID string, report func(Progress)) (Progress, error) {
	if report == nil {
		report = func(Progress) {}
	}
	ratings := d.Store()
	lock, ok, err := ratings.LockRecompute(ctx)
	if err != nil {
		return Progress{}, err
	}
	if !ok {
		p := Progress{Status: StatusBusy}
		report(p)
		return p, nil
	}
	defer lock.Unlock(ctx)

	run, resumed, err := lock.StartOrResume(ctx, taskID, d.Config.PriorWeight, d.Config.BatchSize)
	if err != nil {
		return Progress{}, err
	}
	start, startReviews := d.Now(), run.ProcessedReviews
	prog := func(status string) Progress { return progressOf(run, resumed, status, start, startReviews, d.Now()) }
	report(prog(StatusRunning))

	results, wait, stop := runBatches(ctx, ratings, run, max(1, d.Config.Parallelism))
	cache := d.Cache
	pending := map[int]BatchResult{}
	next := 0
	var advanceErr error
	for r := range results {
		pending[r.seq] = r.res
		for advanceErr == nil {
			res, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if advanceErr = ctx.Err(); advanceErr != nil {
				break
			}
			if advanceErr = lock.Advance(ctx, &run, res); advanceErr != nil {
				break
			}
			if err := cache.Invalidate(ctx, res.Changed...); err != nil {
				// The numbers are committed; a stale entry lives at most CacheTTL.
				zerolog.Ctx(ctx).Warn().Err(err).Str("run_id", run.ID).Msg("rating cache invalidation failed")
			}
			p := prog(StatusRunning)
			report(p)
			if d.AfterBatchFunc != nil {
				d.AfterBatchFunc(p)
			}
		}
		if advanceErr != nil {
			stop()
		}
	}
	if err := errors.Join(advanceErr, wait()); err != nil {
		return prog(StatusRunning), fmt.Errorf("rating recompute run %s stopped after batch %d: %w", run.ID, run.Batches, err)
	}
	if err := lock.Finish(ctx, &run, nil); err != nil {
		return prog(StatusRunning), err
	}
	p := prog(StatusFinished)
	report(p)
	return p, nil
}

type batchResult struct {
	seq int
	res BatchResult
}

// runBatches plans keyset batches after run.Cursor (one goroutine, in key
// order) and recomputes them on `parallel` goroutines. Results arrive in
// any order, tagged with their sequence number; the channel closes when all
// batches are done or the work stopped (ctx ended, stop called, an error).
// wait returns the first error once everything has exited.
func runBatches(ctx context.Context, ratings *Store, run RecomputeRun, parallel int) (results <-chan batchResult, wait func() error, stop func()) {
	ctx, stop = context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	type job struct {
		seq         int
		after, upTo string
	}
	jobs := make(chan job)
	out := make(chan batchResult, parallel)
	g.Go(func() error {
		defer close(jobs)
		after := run.Cursor
		for seq := 0; ; seq++ {
			upTo, err := ratings.NextBoundary(gctx, after, run.BatchSize)
			if err != nil || upTo == "" {
				return err
			}
			select {
			case jobs <- job{seq, after, upTo}:
			case <-gctx.Done():
				return gctx.Err()
			}
			after = upTo
		}
	})
	var workers sync.WaitGroup
	for range parallel {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for j := range jobs {
				res, err := ratings.RecomputeRange(gctx, j.after, j.upTo, run.Params)
				if err != nil {
					return err
				}
				select {
				case out <- batchResult{j.seq, res}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	done := make(chan struct{})
	go func() {
		workers.Wait()
		close(out)
		close(done)
	}()
	wait = func() error {
		err := g.Wait()
		<-done
		stop()
		return err
	}
	return out, wait, stop
}
