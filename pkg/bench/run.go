package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// OpFunc is one operation of a load run (one webhook delivery, one task round
// trip). It is called from many goroutines at once. A non-nil error counts
// the operation as failed; failed operations are not in the latency
// histogram. ctx ends only when the whole run is aborted, never at the end
// of Options.Duration: operations in flight then are allowed to finish.
type OpFunc func(ctx context.Context) error

// Progress is a snapshot of a run in progress, for a progress bar.
type Progress struct {
	Done    int64 // operations finished, successful or not
	Errors  int64
	Elapsed time.Duration
}

// progressInterval is how often Options.ProgressFunc is called.
const progressInterval = 200 * time.Millisecond

// Options bound one load run.
type Options struct {
	// Concurrency is the number of workers. Closed loop: each starts its next
	// operation when the previous one returned. Open loop: the bound on
	// operations in flight. Default 1.
	Concurrency int
	// Rate > 0 selects open-loop mode: Rate operations a second on a fixed
	// schedule, latency measured from each scheduled start.
	Rate float64
	// Duration and Count bound the run, whichever is reached first; at least
	// one must be set. Count counts started operations.
	Duration time.Duration
	Count    int64
	// Timeout bounds each operation (a lost message must not hang a worker
	// for ever); it fails with context.DeadlineExceeded. Default 30s.
	Timeout time.Duration
	// Warmup, if set, runs the same load this long first without recording
	// it (connection pools fill, caches warm, the JIT-free runtime settles).
	Warmup time.Duration
	// ProgressFunc, if set, is called about every 200 ms while the measured
	// part runs, and once at the end. It must return quickly.
	ProgressFunc func(Progress)
}

// Mode is "open" or "closed".
func (o Options) Mode() string {
	if o.Rate > 0 {
		return "open"
	}
	return "closed"
}

// Validate reports every invalid field at once.
func (o Options) Validate() error {
	var errs []error
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: want at least 1", o.Concurrency))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g: want 0 (closed loop) or a positive rate", o.Rate))
	}
	if o.Duration < 0 || o.Count < 0 || o.Warmup < 0 || o.Timeout < 0 {
		errs = append(errs, errors.New("duration, count, warmup and timeout must not be negative"))
	}
	if o.Duration == 0 && o.Count == 0 {
		errs = append(errs, errors.New("set a duration or a count to bound the run"))
	}
	return errors.Join(errs...)
}

// Run drives op under opts (after an unrecorded warmup, if any) and returns
// what it measured. The error is ctx's when the run was aborted; the result
// then covers what finished before.
func Run(ctx context.Context, name string, opts Options, op OpFunc) (Result, error) {
	if opts.Concurrency == 0 {
		opts.Concurrency = 1
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if err := opts.Validate(); err != nil {
		return Result{Name: name}, fmt.Errorf("bench %s: %w", name, err)
	}
	if opts.Warmup > 0 {
		w := Options{Concurrency: opts.Concurrency, Rate: opts.Rate, Duration: opts.Warmup, Timeout: opts.Timeout}
		// Each worker runs at least one warmup operation however short
		// Warmup is: on a loaded machine its timer can fire before a worker
		// goroutine is scheduled, and a warmup that warmed nothing is none.
		if _, err := execute(ctx, w, op, int64(opts.Concurrency)); err != nil {
			return Result{Name: name}, err
		}
	}
	res, err := execute(ctx, opts, op, 0)
	res.Name = name
	return res, err
}

// runner is the state of one run shared by its workers.
type runner struct {
	opts Options
	op   OpFunc
	// atLeast operations start even when Duration has passed: one per
	// worker in a closed loop, the first atLeast scheduled ones in an open
	// loop (still bounded by Count and ctx).
	atLeast int64
	issued  atomic.Int64 // closed loop: operations started, against Count
	done    atomic.Int64
	failed  atomic.Int64

	errMu    sync.Mutex
	firstErr error
}

func execute(ctx context.Context, opts Options, op OpFunc, atLeast int64) (Result, error) {
	r := &runner{opts: opts, op: op, atLeast: atLeast}
	stop := make(chan struct{}) // closed when Duration has passed
	if opts.Duration > 0 {
		t := time.AfterFunc(opts.Duration, func() { close(stop) })
		defer t.Stop()
	}
	hists := make([]histogram, opts.Concurrency)
	for i := range hists {
		hists[i] = newHistogram()
	}

	cpu := StartCPU()
	start := time.Now()
	progressDone := r.reportProgress(start)
	var wg sync.WaitGroup
	if opts.Rate > 0 {
		jobs := make(chan time.Time, opts.Concurrency)
		for _, h := range hists {
			wg.Go(func() { r.openWorker(ctx, jobs, h) })
		}
		r.dispatch(ctx, stop, jobs)
	} else {
		for _, h := range hists {
			wg.Go(func() { r.closedWorker(ctx, stop, h) })
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	progressDone()

	all := newHistogram()
	for _, h := range hists {
		all.merge(h)
	}
	res := Result{
		Mode:        opts.Mode(),
		Concurrency: opts.Concurrency,
		Rate:        opts.Rate,
		Ops:         all.count(),
		Errors:      r.failed.Load(),
		Elapsed:     elapsed,
		Latency:     all.latency(),
	}
	if elapsed > 0 {
		res.Throughput = float64(res.Ops) / elapsed.Seconds()
	}
	if r.firstErr != nil {
		res.FirstError = r.firstErr.Error()
	}
	cpu.Stop(&res)
	return res, ctx.Err()
}

// closedWorker runs operations back to back until stop, ctx or Count.
func (r *runner) closedWorker(ctx context.Context, stop <-chan struct{}, h histogram) {
	for n := 0; ; n++ {
		st := stop
		if n == 0 && r.atLeast > 0 {
			st = nil // a nil channel never fires: the first operation runs
		}
		select {
		case <-st:
			return
		case <-ctx.Done():
			return
		default:
		}
		if r.opts.Count > 0 && r.issued.Add(1) > r.opts.Count {
			return
		}
		start := time.Now()
		err := r.call(ctx)
		r.finish(h, time.Since(start), err)
	}
}

// dispatch hands out scheduled start times at Rate until stop, ctx or Count,
// then closes jobs. When every worker is busy it blocks, and the backlog
// shows up in the latencies (measured from the scheduled start).
func (r *runner) dispatch(ctx context.Context, stop <-chan struct{}, jobs chan<- time.Time) {
	defer close(jobs)
	interval := float64(time.Second) / r.opts.Rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	for i := int64(0); r.opts.Count == 0 || i < r.opts.Count; i++ {
		stop := stop
		if i < r.atLeast {
			stop = nil // a nil channel never fires: this one is dispatched
		}
		select {
		case <-stop:
			return
		default:
		}
		at := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- at:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// openWorker runs each scheduled operation it receives.
func (r *runner) openWorker(ctx context.Context, jobs <-chan time.Time, h histogram) {
	for at := range jobs {
		err := r.call(ctx)
		r.finish(h, time.Since(at), err)
	}
}

// call runs one operation under the per-operation timeout.
func (r *runner) call(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	return r.op(ctx)
}

func (r *runner) finish(h histogram, d time.Duration, err error) {
	r.done.Add(1)
	if err == nil {
		h.record(d)
		return
	}
	r.failed.Add(1)
	r.errMu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.errMu.Unlock()
}

// reportProgress calls ProgressFunc periodically until the returned stop
// function is called (which reports one last time).
func (r *runner) reportProgress(start time.Time) (stop func()) {
	if r.opts.ProgressFunc == nil {
		return func() {}
	}
	snapshot := func() Progress {
		return Progress{Done: r.done.Load(), Errors: r.failed.Load(), Elapsed: time.Since(start)}
	}
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.opts.ProgressFunc(snapshot())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		r.opts.ProgressFunc(snapshot())
	}
}
