package bench

import (
	"context"
	"sync"
)

// Waiters pairs an operation that sent a message with the consumer that
// receives it: the operation registers an id with Add before sending and
// waits with Wait; the consumer calls Done(id). Safe for concurrent use.
type Waiters struct {
	m sync.Map // id → chan struct{}
}

// Add registers id and returns the channel Done closes.
func (w *Waiters) Add(id string) <-chan struct{} {
	ch := make(chan struct{})
	w.m.Store(id, ch)
	return ch
}

// Done signals id's waiter and reports whether there was one (false for a
// redelivery or a message some other run sent).
func (w *Waiters) Done(id string) bool {
	v, ok := w.m.LoadAndDelete(id)
	if ok {
		close(v.(chan struct{}))
	}
	return ok
}

// Wait blocks until ch (from Add(id)) is closed or ctx ends, in which case
// id is forgotten and ctx's error returned.
func (w *Waiters) Wait(ctx context.Context, id string, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		w.m.Delete(id)
		return ctx.Err()
	}
}

// Forget drops id after a failed send.
func (w *Waiters) Forget(id string) { w.m.Delete(id) }
