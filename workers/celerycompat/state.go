package celerycompat

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"fundigo/pkg/celery"
)

// Revoked task ids are remembered as a Celery worker remembers them
// (celery.worker.state: REVOKES_MAX, REVOKE_EXPIRES): in memory, per
// process, at most RevokesMax ids, each for RevokeExpires.
const (
	RevokesMax    = 50000
	RevokeExpires = 3 * time.Hour
)

// errTerminated is the cause a running handler's context is cancelled with
// by `celery control revoke --terminate`.
var errTerminated = errors.New("terminated by remote control revoke")

// running is a task whose handler is running: what `celery inspect active`
// lists and what a terminating revoke cancels.
type running struct {
	m       *celery.Message
	d       *delivery
	started time.Time
	cancel  context.CancelCauseFunc
}

// workerState is what remote control reads and steers: the tasks running,
// the revoked ids, the count of tasks run per name, and the worker's Lamport
// clock (shared with events). Safe for concurrent use.
type workerState struct {
	started time.Time
	clock   atomic.Int64

	mu      sync.Mutex
	active  map[string]*running  // by task id
	revoked map[string]time.Time // task id → when revoked
	total   map[string]int64     // task name → tasks started
}

func newWorkerState(now time.Time) *workerState {
	return &workerState{started: now, active: map[string]*running{}, revoked: map[string]time.Time{},
		total: map[string]int64{}}
}

// forward ticks the Lamport clock and returns the new value.
func (s *workerState) forward() int64 { return s.clock.Add(1) }

// adjust moves the clock past a value seen on a message (clock header).
func (s *workerState) adjust(seen int64) {
	for {
		cur := s.clock.Load()
		next := max(cur, seen) + 1
		if s.clock.CompareAndSwap(cur, next) {
			return
		}
	}
}

// begin records m as running (its handler's context cancelled with
// errTerminated by terminate) and returns the record to pass to end.
func (s *workerState) begin(d *delivery, m *celery.Message, now time.Time, cancel context.CancelCauseFunc) *running {
	r := &running{m: m, d: d, started: now, cancel: cancel}
	s.mu.Lock()
	s.active[m.ID] = r
	s.total[m.Task]++
	s.mu.Unlock()
	return r
}

func (s *workerState) end(r *running) {
	s.mu.Lock()
	if s.active[r.m.ID] == r {
		delete(s.active, r.m.ID)
	}
	s.mu.Unlock()
}

// running returns the tasks running now.
func (s *workerState) running() []*running {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*running, 0, len(s.active))
	for _, r := range s.active {
		out = append(out, r)
	}
	return out
}

func (s *workerState) totals() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.total)
}

// revoke remembers ids as revoked; with terminate it also cancels the
// handlers running them and returns the ids it cancelled.
func (s *workerState) revoke(ids []string, terminate bool, now time.Time) (terminated []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.revoked[id] = now
		if r, ok := s.active[id]; ok && terminate {
			r.cancel(errTerminated)
			terminated = append(terminated, id)
		}
	}
	if len(s.revoked) > RevokesMax {
		s.purge(now)
	}
	return terminated
}

// purge drops expired ids, then the oldest ones, down to RevokesMax.
// Called with mu held.
func (s *workerState) purge(now time.Time) {
	for id, at := range s.revoked {
		if now.Sub(at) > RevokeExpires {
			delete(s.revoked, id)
		}
	}
	if extra := len(s.revoked) - RevokesMax; extra > 0 {
		ids := slices.Collect(maps.Keys(s.revoked))
		slices.SortFunc(ids, func(a, b string) int { return s.revoked[a].Compare(s.revoked[b]) })
		for _, id := range ids[:extra] {
			delete(s.revoked, id)
		}
	}
}

// isRevoked reports whether id was revoked (and has not expired).
func (s *workerState) isRevoked(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.revoked[id]
	return ok && now.Sub(at) <= RevokeExpires
}

// revokedIDs lists the revoked ids still remembered.
func (s *workerState) revokedIDs(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.revoked))
	for id, at := range s.revoked {
		if now.Sub(at) <= RevokeExpires {
			out = append(out, id)
		}
	}
	return out
}
