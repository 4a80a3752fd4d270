package celerycompat

import (
	"context"
	"fmt"
	"sort"

	"fundigo/pkg/celery"
)

// HandlerFunc runs one Celery task and returns its result, which must encode
// as JSON (it becomes the SUCCESS result AsyncResult.get() returns). It must
// be idempotent: a message is redelivered after a crash, and a retry runs
// it again. Errors decide what happens next (see Retry):
//   - a *celery.Exception fails the task with that Python class, no retry
//     (celery.ValueError for bad input, celery.TypeError for a bad call);
//   - Retry(err, countdown) retries after countdown;
//   - any other error is taken as transient and retried with backoff, up to
//     the configured maximum, then fails as RuntimeError.
//
// ctx ends at the task's hard time limit.
type HandlerFunc func(ctx context.Context, m *celery.Message) (any, error)

// Registry maps Celery task names to handlers. It is built once at startup
// and read-only afterwards, so safe for concurrent use.
type Registry struct {
	byTask map[string]HandlerFunc
}

// NewRegistry maps each Celery task name in routes to the handler named by
// its value in handlers. A route naming no known handler is an error that
// lists the known ones.
func NewRegistry(routes map[string]string, handlers map[string]HandlerFunc) (*Registry, error) {
	r := &Registry{byTask: map[string]HandlerFunc{}}
	for task, name := range routes {
		h, ok := handlers[name]
		if !ok {
			known := make([]string, 0, len(handlers))
			for k := range handlers {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("celery task %s: no handler named %q (known: %v)", task, name, known)
		}
		r.byTask[task] = h
	}
	return r, nil
}

// Lookup returns the handler of a Celery task name.
func (r *Registry) Lookup(task string) (HandlerFunc, bool) {
	h, ok := r.byTask[task]
	return h, ok
}

// Tasks lists the registered Celery task names, sorted.
func (r *Registry) Tasks() []string {
	out := make([]string, 0, len(r.byTask))
	for k := range r.byTask {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
