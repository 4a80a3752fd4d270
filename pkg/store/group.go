package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Group runs the calls of Do that arrive close together as one batch: the
// first call of a batch waits up to Window for others (or until MaxBatch
// joined), then runs Run once for all of them and hands each caller its own
// result. It turns N concurrent single-row round trips and commits into one.
// With Window 0 every call runs alone, at once, through the same Run.
//
// Run is called with the leader's context detached from its cancellation
// (the other callers depend on it) and bounded by Timeout. It returns one
// result and one error per item, in order: a Run that fails as a whole
// gives every item the error (or isolates the failing items itself); any
// other shape fails every item. Safe for concurrent use; set Run before use.
type Group[T, R any] struct {
	Window   time.Duration
	MaxBatch int           // default 64
	Timeout  time.Duration // default 30s
	Run      func(ctx context.Context, items []T) ([]R, []error)

	mu   sync.Mutex
	open *groupBatch[T, R]
}

type groupBatch[T, R any] struct {
	items   []T
	results []R
	errs    []error
	full    chan struct{} // closed when MaxBatch items joined
	done    chan struct{} // closed after Run returned
}

// Do adds item to the open batch (opening one if none is) and returns its
// result once the batch ran. A cancelled ctx returns early; the item still
// runs with its batch.
func (g *Group[T, R]) Do(ctx context.Context, item T) (R, error) {
	if g.Window <= 0 {
		rs, errs := g.run(ctx, []T{item})
		return rs[0], errs[0]
	}
	g.mu.Lock()
	b, leader := g.open, false
	if b == nil {
		b = &groupBatch[T, R]{full: make(chan struct{}), done: make(chan struct{})}
		g.open, leader = b, true
	}
	idx := len(b.items)
	b.items = append(b.items, item)
	if len(b.items) >= g.maxBatch() {
		g.open = nil
		close(b.full)
	}
	g.mu.Unlock()
	if leader {
		go g.lead(ctx, b) // run detaches it from ctx's cancellation
	}
	select {
	case <-b.done:
		return b.results[idx], b.errs[idx]
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

func (g *Group[T, R]) maxBatch() int {
	if g.MaxBatch <= 0 {
		return 64
	}
	return g.MaxBatch
}

// lead closes the batch after Window (or when full) and runs it.
func (g *Group[T, R]) lead(ctx context.Context, b *groupBatch[T, R]) {
	t := time.NewTimer(g.Window)
	select {
	case <-t.C:
	case <-b.full:
		t.Stop()
	}
	g.mu.Lock()
	if g.open == b {
		g.open = nil
	}
	g.mu.Unlock()
	b.results, b.errs = g.run(ctx, b.items)
	close(b.done)
}

// run calls Run under Timeout and shapes its answer to one result and one
// error per item.
func (g *Group[T, R]) run(ctx context.Context, items []T) ([]R, []error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	rs, errs := g.Run(ctx, items)
	if len(rs) != len(items) || len(errs) != len(items) {
		// A broken Run must not read as success.
		err := fmt.Errorf("store group: run answered %d results and %d errors for %d items", len(rs), len(errs), len(items))
		rs, errs = make([]R, len(items)), make([]error, len(items))
		for i := range errs {
			errs[i] = err
		}
	}
	return rs, errs
}
