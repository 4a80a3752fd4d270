package live

import (
	"context"
	"errors"
	"sync"
)

// Reasons a subscription ends on the server's side; transports tell the
// client (WebSocket close code and reason, SSE event).
var (
	// ErrSlowConsumer: the client did not read fast enough and its buffer
	// filled; it may reconnect and resume.
	ErrSlowConsumer = errors.New("slow consumer: send buffer full")
	// ErrShutdown: the process is stopping; reconnect (to another replica).
	ErrShutdown = errors.New("server shutting down")
	// ErrResync: the fan-out subscription was re-established and messages
	// may have been missed; reconnect and resume.
	ErrResync = errors.New("fan-out resynchronising")
)

// Subscription is one connection's view of one owner's events. Next is
// called by one goroutine (the connection's); the Hub only ever does a
// non-blocking send on ch and closes done.
type Subscription struct {
	hub       *Hub
	owner     string
	transport string

	// ch receives live messages from the Hub's dispatch goroutine.
	ch chan Message
	// done is closed once, by drop, after err is set.
	done chan struct{}
	once sync.Once
	err  error

	// Touched only by the connection's goroutine.
	pending []Message // ready, refetch and replay, sent before live ones
	filter  bool      // skip live messages with id <= after (already replayed)
	after   StreamID
}

// Owner is whose events the subscription receives.
func (s *Subscription) Owner() string { return s.owner }

// Next returns the next message: first the opening ones (ready, refetch,
// replay), then live ones. It returns the drop reason (ErrSlowConsumer,
// ErrShutdown, ErrResync) once the Hub dropped the subscription, or
// ctx.Err().
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	if len(s.pending) > 0 {
		m := s.pending[0]
		s.pending = s.pending[1:]
		return m, nil
	}
	for {
		select {
		case m := <-s.ch:
			if s.filter {
				id, err := ParseStreamID(m.ID)
				if err == nil && !s.after.Less(id) {
					continue // replayed already
				}
				s.filter = false // ids only grow from here
			}
			return m, nil
		case <-s.done:
			return Message{}, s.err
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Done is closed when the Hub dropped the subscription; Err then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is the drop reason once Done is closed, else nil.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close unregisters the subscription; call it when the connection ends.
// Safe to call more than once and after a drop.
func (s *Subscription) Close() {
	s.hub.unregister(s)
	s.drop(context.Canceled)
}

func (s *Subscription) drop(reason error) {
	s.once.Do(func() {
		s.err = reason
		close(s.done)
	})
}
